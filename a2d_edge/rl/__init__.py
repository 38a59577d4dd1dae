"""A2C: returns and losses (pure), rollouts, the trainer, checkpoints, evaluation."""
