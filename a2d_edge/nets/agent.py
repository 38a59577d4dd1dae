"""ActorCritic: uint8 frames in, one linear actor head and one linear critic head out."""

from __future__ import annotations

import math

import torch
from torch import nn


class ActorCritic(nn.Module):
    """Scales uint8 frames by 1/255 inside the module, so exported graphs take raw frames."""

    def __init__(self, features: nn.Module, feature_dim: int, n_actions: int) -> None:
        super().__init__()
        self.features = features
        self.actor = nn.Linear(feature_dim, n_actions)
        self.critic = nn.Linear(feature_dim, 1)
        self.n_actions = n_actions
        _init_weights(self)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(obs.float() * (1.0 / 255.0))
        return self.actor(h), self.critic(h).squeeze(-1)


def _init_weights(model: ActorCritic) -> None:
    """Orthogonal init (gain sqrt 2 in the trunk, 0.01 actor, 1 critic), as in OpenAI baselines."""
    for m in model.features.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.orthogonal_(m.weight, math.sqrt(2))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    nn.init.orthogonal_(model.actor.weight, 0.01)
    nn.init.zeros_(model.actor.bias)
    nn.init.orthogonal_(model.critic.weight, 1.0)
    nn.init.zeros_(model.critic.bias)


class QActorCritic(ActorCritic):
    """A value-based agent (DQN, QR-DQN) as an actor-critic teacher: the actor head computes
    Q(s, ·), the policy is softmax(Q / temperature) and the value is the expected Q under that
    policy. The critic head is unused (kept so the state dict has ActorCritic's keys)."""

    def __init__(
        self, features: nn.Module, feature_dim: int, n_actions: int, temperature: float
    ) -> None:
        super().__init__(features, feature_dim, n_actions)
        self.temperature = float(temperature)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(obs.float() * (1.0 / 255.0))
        return q_policy(self.actor(h), self.temperature)


def q_policy(q: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, value) of a Q-function read as a policy: logits Q/τ (softmax(Q/τ) is the
    policy) and value Σ_a softmax(Q/τ)_a Q_a, the expected Q under it."""
    logits = q / temperature
    value = (torch.softmax(logits, dim=-1) * q).sum(-1)
    return logits, value
