"""Search settings: the training fields (weights are trained as in `a2d train`) plus DNAS ones,
and those of the distillation-driven search (`--method distill`, the default)."""

from __future__ import annotations

from dataclasses import dataclass

from a2d_edge.config import field
from a2d_edge.rl.config import TrainConfig
from a2d_edge.rl.schedule import SHAPES


@dataclass(frozen=True)
class SearchConfig(TrainConfig):
    steps: int = field(20_000_000, "agent steps of the search (paper: 2e7)", low=1)
    method: str = field(
        "distill",
        "distill: the supernet learns from teacher-labelled frames the student plays (DAgger), "
        "then an arch is selected under the latency budget and finished by the same "
        "distillation (search -> finish -> eval, agent.pt); rl: the paper's Algorithm 1, "
        "A2C + distillation through the supernet, the arch from alpha (Fig. 2)",
        choices=("distill", "rl"),
    )
    preset: str = field(
        "auto",
        "search-space preset (auto: the --lut table's preset, else fast with --method distill, "
        "paper with --method rl)",
        choices=("auto", "paper", "edge", "fast", "tiny", "nature-widths"),
    )
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
    recalibrate: bool = field(
        True,
        "rescale a --lut table of this host to this sitting's drift before it predicts or "
        "judges (a dozen archs timed its way, seconds; recorded in search.json / result.json); "
        "--no-recalibrate: the table as it is. Another device's table is never rescaled",
    )
    latency_weight: float = field(
        1.0, "weight of the latency cost: of max(0, E[lat]/budget - 1), or of E[lat] in ms", low=0
    )
    # ----- --method distill -----
    supernet: str = field(
        "",
        "a trained supernet to select from (its run folder or supernet.pt): no supernet "
        "training, only selection (for this --lut and budget) and the finish",
    )
    budget_of_teacher: float = field(
        0.0,
        "latency budget as this share of the teacher's own latency, measured here with the "
        "table's backend, precision and timing mode (e.g. 0.33; needs this host's --lut; "
        "written into the run's --latency-budget-ms)",
        low=0,
        high=1,
    )
    budget_teacher_ms: float = field(
        0.0,
        "the teacher's latency --budget-of-teacher took (its fastest round in one sitting, "
        "set by the search and kept in config.json and result.json)",
        flag=False,
        low=0,
    )
    supernet_steps: int = field(100_000, "agent steps the supernet trains for", low=0)
    finish_steps: int = field(300_000, "agent steps the selected net is distilled for", low=0)
    finish_from: str = field(
        "inherit",
        "inherit: the finish starts from the supernet's weights for the selected ops (BN "
        "statistics recomputed); scratch: from a fresh init",
        choices=("inherit", "scratch"),
    )
    finish_a2c_steps: int = field(
        0, "then fine-tune by A2C + distillation (a2d train --init, the paper's retrain)", low=0
    )
    final_episodes: int = field(30, "episodes of the final evaluation (0: none)", low=0)
    replay_size: int = field(60_000, "teacher-labelled frames kept (uint8, ~28 KB each)", low=1)
    holdout_size: int = field(4_096, "frames held out of training, to judge paths on", low=256)
    batch_size: int = field(256, "replayed frames per gradient step", low=1)
    frames_per_update: int = field(
        32, "new frames collected per gradient step of the finish (a multiple of --num-envs)", low=1
    )
    supernet_frames_per_update: int = field(
        64,
        "new frames collected per gradient step of the supernet (each trains several paths)",
        low=1,
    )
    distill_lr: float = field(5e-4, "Adam learning rate of the distillation", above=0)
    finish_lr_schedule: str = field(
        "constant",
        "Adam lr of the finish (and of a2d distill) over its steps: constant at --distill-lr, "
        "or linear / cosine from --distill-lr down to 0 at its last step (the supernet's lr "
        "stays constant)",
        choices=SHAPES,
    )
    temperature: float = field(1.0, "temperature T of the policy KL (x T^2)", above=0)
    value_weight: float = field(1.0, "weight of 1/2 (V_s - V_t)^2 beside the KL", low=0)
    teacher_share: float = field(
        0.5, "share of env steps the teacher acts at the start (DAgger's beta)", low=0, high=1
    )
    teacher_share_steps: int = field(
        100_000, "agent steps over which that share falls linearly to 0", low=0
    )
    paths: str = field(
        "sandwich",
        "supernet paths trained per step: sandwich (largest, smallest and --random-paths "
        "random ones) or uniform (--random-paths random ones)",
        choices=("sandwich", "uniform"),
    )
    random_paths: int = field(1, "random paths per step", low=0)
    select: str = field(
        "evolution",
        "evolution: over the trained supernet, fitness = held-out KL to the teacher, constraint "
        "= the table's prediction <= budget (x 1 - --budget-margin); gradient: alpha learns "
        "from the held-out distillation loss plus |E[lat]/B - 1| during the supernet's training",
        choices=("evolution", "gradient"),
    )
    budget_margin: float = field(
        0.0, "evolution keeps predictions under B x (1 - margin)", low=0, high=0.9
    )
    population: int = field(24, "evolution: population size", low=2)
    generations: int = field(12, "evolution: generations", low=1)
    select_warmup: float = field(
        0.5, "gradient: share of --supernet-steps before alpha moves", low=0, high=1
    )
    select_tau: float = field(1.0, "gradient: Gumbel temperature of alpha's steps", above=0)
    judge_frames: int = field(2_048, "held-out frames a path is judged on", low=64)
    judge_adapt_steps: int = field(
        20,
        "Adam steps each judged path takes from the inherited weights (on the BN frames) before "
        "its held-out loss is read: few-shot adaptation against the supernet's bias toward the "
        "paths it trained most (the sandwich's smallest, all skip)",
        low=0,
    )
    bn_frames: int = field(1_024, "frames a path's BatchNorm statistics are recomputed on", low=64)
    rerank_top: int = field(
        0,
        "evolution: the best N archs it judged are judged again with --rerank-adapt-steps and "
        "the best of them is selected (0: the evolution's best). Off by default: on Pong at 1/3 "
        "of the teacher it picked an arch that trained worse (16.7 against the search's 18.1 "
        "over 130 episodes: BENCHMARKS.md, Search results per game)",
        low=0,
    )
    rerank_adapt_steps: int = field(
        100,
        "Adam steps of adaptation in the re-ranking (on Pong's fast space 100 steps ranked 9 "
        "trained archs better than 20: Kendall tau-b +0.67 against +0.17 / +0.22, two frame sets)",
        low=1,
    )

    def space_preset(self) -> str:
        if self.preset != "auto":
            return self.preset
        return "fast" if self.method == "distill" else "paper"
