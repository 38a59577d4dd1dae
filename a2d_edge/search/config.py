"""Search settings: the training fields (weights are trained as in `a2d train`) plus DNAS ones."""

from __future__ import annotations

from dataclasses import dataclass

from a2d_edge.config import field
from a2d_edge.rl.config import TrainConfig


@dataclass(frozen=True)
class SearchConfig(TrainConfig):
    steps: int = field(20_000_000, "agent steps of the search (paper: 2e7)", low=1)
    preset: str = field("paper", "search-space preset", choices=("paper", "edge"))
    mode: str = field(
        "soft",
        "soft: Gumbel-softmax sum of all ops (paper); hard: straight-through, one op runs",
        choices=("soft", "hard"),
    )
    optimization: str = field(
        "one-level",
        "one-level: weights and alphas on the same rollout each step (A2D); bi-level: alphas "
        "on a separate rollout (DARTS-style, the Fig. 2 comparison)",
        choices=("one-level", "bi-level"),
    )
    tau: float = field(5.0, "initial Gumbel-softmax temperature", above=0)
    tau_decay: float = field(
        0.98, "temperature factor applied every --tau-every steps", above=0, high=1
    )
    tau_every: int = field(100_000, "steps between temperature decays", low=1)
    alpha_lr: float = field(1e-3, "Adam learning rate of the architecture logits", above=0)
    alpha_beta1: float = field(0.9, "Adam beta1 of the architecture logits", low=0, high=1)
    alpha_warmup: int = field(
        0,
        "agent steps in which only the weights train and the architecture logits stay put "
        "(ops sampled uniformly, so each one learns before the cost and the score judge it; "
        "FBNet / ProxylessNAS warm up). 0: alphas move from the first step (paper)",
        low=0,
    )
    flops_weight: float = field(1e-3, "lambda: cost per expected MFLOP (Eq. 9)", low=0)
    lut: str = field(
        "",
        "latency table of the target device (a2d-profile); the table beside it timed the way "
        "the agent will run is preferred: the controller-mode one of --run-hz (-ctl<F>hz), "
        "else the in-loop twin (-inloop)",
    )
    run_hz: float = field(
        15.0, "control rate the agent will run at (a2d run --hz; 0: free-running)", low=0
    )
    run_spin_ms: float = field(0.0, "a2d run --spin-ms the agent will run with", low=0)
    run_prewarm: bool = field(False, "whether the agent will run with a2d run --prewarm")
    latency_budget_ms: float = field(0.0, "latency budget by the table (0: no budget)", low=0)
    latency_weight: float = field(
        1.0, "weight of the latency cost: of max(0, E[lat]/budget - 1), or of E[lat] in ms", low=0
    )
