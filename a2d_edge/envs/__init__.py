"""Atari environments through ale-py's native C++ vector env (torch-free)."""

from a2d_edge.envs.atari import (
    AtariSettings,
    EpisodeTracker,
    action_meanings,
    list_env_ids,
    make_vec_env,
    resolve_game,
)
from a2d_edge.envs.evaluate import EvalResult, evaluate_policy

__all__ = [
    "AtariSettings",
    "EpisodeTracker",
    "EvalResult",
    "action_meanings",
    "evaluate_policy",
    "list_env_ids",
    "make_vec_env",
    "resolve_game",
]
