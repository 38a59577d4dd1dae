"""Where agents come from: `zoo:NAME`, a path to an `agent.pt`, and the agents of other
libraries (`a2d import`: SB3 / rl-zoo zips, CleanRL state dicts), and the `agent.pt` format
itself (`sources.checkpoint`). Name resolution lives in `sources.names` alone."""

DEFAULT_TEMPERATURE = 0.01
"""softmax(Q/τ) of a value-based teacher. Rusu et al. (2016, "Policy Distillation") found a
sharp teacher, τ = 0.01, distils best with a KL loss: a DQN's Q-values differ between actions by
hundredths of a (clipped) reward, so τ near 1 would spread the teacher's policy almost
uniformly and the student would learn noise; τ = 0.01 keeps the greedy action's lead."""
DEFAULT_FRAMES = 300  # frames an import plays for its parity check
