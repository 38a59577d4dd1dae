"""A2C: returns and losses (pure), rollouts, the trainer, evaluation (the agent.pt format is
`sources.checkpoint`)."""
