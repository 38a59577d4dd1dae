"""Return and advantage estimators as pure functions over [T, N] tensors.

`rewards[t]`, `dones[t]` belong to the transition s_t -> s_{t+1}; `dones[t] = 1` means s_{t+1}
starts a new episode (or a life-loss terminal), so nothing is bootstrapped across it.
"""

from __future__ import annotations

import torch


def nstep_returns(
    rewards: torch.Tensor, dones: torch.Tensor, last_value: torch.Tensor, gamma: float
) -> torch.Tensor:
    """R_t = r_t + gamma * (1 - d_t) * R_{t+1}, with R_T = V(s_T): A2C's n-step targets."""
    returns = torch.empty_like(rewards)
    running = last_value
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + gamma * (1.0 - dones[t]) * running
        returns[t] = running
    return returns


def td0_targets(
    rewards: torch.Tensor,
    dones: torch.Tensor,
    values: torch.Tensor,
    last_value: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    """r_t + gamma * (1 - d_t) * V(s_{t+1}): the one-step target of the paper's Eq. 4 / 5."""
    next_values = torch.cat([values[1:], last_value.unsqueeze(0)], dim=0)
    return rewards + gamma * (1.0 - dones) * next_values
