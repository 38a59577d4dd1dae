"""Training settings; defaults are the paper's (DESIGN.md) unless a field says otherwise."""

from __future__ import annotations

from dataclasses import dataclass

from a2d_edge.config import copy_field, field
from a2d_edge.envs.atari import AtariSettings


@dataclass(frozen=True)
class TrainConfig:
    env: str = field("ALE/Pong-v5", "ALE env id (a2d envs lists them)")
    arch: str = field(
        "nature", "nature | nature-half|quarter|thin | resnet14|20|38|74 | path to an arch.json"
    )
    num_envs: int = field(16, "parallel environments", low=1)
    steps: int = field(
        30_000_000, "agent steps in total (each env step of each env counts one)", low=1
    )
    seed: int = field(0, "seed of torch and of the envs", low=0)
    rollout: int = field(5, "rollout length L (n of the n-step return)", low=1)
    gamma: float = field(0.99, "discount factor", low=0, high=1)
    lr: float = field(1e-3, "RMSProp learning rate, constant for --lr-constant-steps", low=0)
    lr_final: float = field(1e-4, "learning rate reached linearly at the last step", low=0)
    lr_constant_steps: int = field(10_000_000, "steps at the initial learning rate", low=0)
    optimizer: str = field(
        "rmsprop-tf",
        "rmsprop-tf: RMSProp as TensorFlow/the A2C papers define it (eps inside the root); "
        "rmsprop: torch.optim.RMSprop (eps outside the root, a different step size early on)",
        choices=("rmsprop-tf", "rmsprop"),
    )
    rmsprop_alpha: float = field(0.99, "RMSProp smoothing constant", low=0, high=1)
    rmsprop_eps: float = field(1e-5, "RMSProp epsilon", above=0)
    ent_coef: float = field(1e-2, "entropy weight a1 (Eq. 8)", low=0)
    value_coef: float = field(1.0, "critic loss weight (Eq. 8 uses 1 with the 1/2 in Eq. 5)", low=0)
    init: str = field(
        "",
        "start from this agent's weights and optimizer statistics (path or zoo:NAME) with a "
        "fresh step count and lr schedule: fine-tuning; it must play --env with --arch",
    )
    teacher: str = field("", "frozen teacher checkpoint (path or zoo:NAME) to distill from")
    distill: str = field(
        "auto",
        "none | actor | actor-reuse-critic | actor-critic (auto: actor-critic with a teacher)",
        choices=("auto", "none", "actor", "actor-reuse-critic", "actor-critic"),
    )
    distill_actor_weight: float = field(1e-1, "a2: weight of KL(teacher || student) (Eq. 8)", low=0)
    distill_critic_weight: float = field(1e-3, "a3: weight of 1/2 (V_s - V_t)^2 (Eq. 8)", low=0)
    max_grad_norm: float = field(0.5, "gradient-norm clip", above=0)
    advantage: str = field("nstep", "nstep returns, or td0 (Eq. 4)", choices=("nstep", "td0"))
    reward_clip: bool = field(True, "clip training rewards to [-1, 1]")
    life_loss_terminal: bool = field(True, "treat a life loss as terminal during training")
    sticky: float = field(
        0.0, "repeat-action probability (ALE v5 default 0.25; paper 0)", low=0, high=1
    )
    noop_max: int = field(30, "up to this many no-ops at episode start", low=0)
    device: str = field(
        "auto",
        "where the network runs: auto (CUDA when torch sees a GPU, else CPU), cpu, cuda, "
        "cuda:N; the envs always step on the CPU",
    )
    threads: int = field(
        1, "torch threads while stepping envs (the env threads need a core)", low=1
    )
    learner_threads: int = field(
        0,
        "torch threads for the update, while the envs idle (0: same as --threads); more "
        "threads than the cores left free by other processes slow the update down",
        low=0,
    )
    env_threads: int = field(1, "threads of each C++ vector env", low=1)
    env_groups: int = field(2, "env groups stepped while the net works on another group", low=1)
    precision: str = field(
        "auto",
        "network math: auto (bf16 autocast where bf16 is native: a GPU, or a CPU with "
        "AVX512_BF16 / AMX whose forward + backward of this net measured bf16 faster at the "
        "run's start, kept by a resume; fp32 elsewhere), fp32, or bf16",
        choices=("auto", "fp32", "bf16"),
    )
    update: str = field(
        "batched",
        "batched: no-grad rollout, one forward+backward over the batch; keep-graph: keep the "
        "rollout's autograd graph (no second forward, but T small backward passes); pipelined: "
        "batched, learned on a second thread while the next rollout is collected with the "
        "weights from before that update (a policy lag of one update; uses two cores)",
        choices=("batched", "keep-graph", "pipelined"),
    )
    channels_last: bool = field(True, "channels-last memory format for the convs")
    eval_every: int = field(250_000, "steps between evaluations (0: none)", low=0)
    eval_episodes: int = field(10, "episodes per periodic evaluation", low=1)
    checkpoint_every: int = field(100_000, "steps between checkpoints", low=1)
    log_every: int = field(10_000, "steps between logged training scalars", low=1)
    progress: bool = field(True, "show a progress bar")

    def distill_mode(self) -> str:
        if self.distill == "auto":
            return "actor-critic" if self.teacher else "none"
        return self.distill

    def atari(self) -> AtariSettings:
        return AtariSettings(
            noop_max=self.noop_max,
            repeat_action_probability=self.sticky,
            reward_clipping=self.reward_clip,
            life_loss_terminal=self.life_loss_terminal,
        )


# ----- settings groups (issue 41): each phase's own small dataclass -----
# A group's fields are TrainConfig's (same defaults, help and ranges); a command composes the
# groups it uses, so `--help` shows only those (`*`: hidden, accepted but not shown).


@dataclass(frozen=True)
class EnvSettings:
    """The games and their envs."""

    env: str = copy_field(TrainConfig, "env")
    num_envs: int = copy_field(TrainConfig, "num_envs")
    seed: int = copy_field(TrainConfig, "seed")
    sticky: float = copy_field(TrainConfig, "sticky")
    noop_max: int = copy_field(TrainConfig, "noop_max")
    env_threads: int = copy_field(TrainConfig, "env_threads", hidden=True)
    env_groups: int = copy_field(TrainConfig, "env_groups", hidden=True)


@dataclass(frozen=True)
class ComputeSettings:
    """How the network's math runs here (speed, not results)."""

    threads: int = copy_field(TrainConfig, "threads")
    learner_threads: int = copy_field(TrainConfig, "learner_threads")
    precision: str = copy_field(TrainConfig, "precision")
    channels_last: bool = copy_field(TrainConfig, "channels_last", hidden=True)


@dataclass(frozen=True)
class PeriodicSettings:
    """What a run does every so often: evaluations, checkpoints, logs."""

    eval_every: int = copy_field(TrainConfig, "eval_every")
    eval_episodes: int = copy_field(TrainConfig, "eval_episodes")
    progress: bool = copy_field(TrainConfig, "progress")
    checkpoint_every: int = copy_field(TrainConfig, "checkpoint_every", hidden=True)
    log_every: int = copy_field(TrainConfig, "log_every", hidden=True)


@dataclass(frozen=True)
class A2CSettings:
    """The A2C update (and its distillation terms): what `a2d train` and the RL search learn by."""

    rollout: int = copy_field(TrainConfig, "rollout")
    gamma: float = copy_field(TrainConfig, "gamma")
    lr: float = copy_field(TrainConfig, "lr")
    lr_final: float = copy_field(TrainConfig, "lr_final")
    lr_constant_steps: int = copy_field(TrainConfig, "lr_constant_steps")
    optimizer: str = copy_field(TrainConfig, "optimizer")
    rmsprop_alpha: float = copy_field(TrainConfig, "rmsprop_alpha")
    rmsprop_eps: float = copy_field(TrainConfig, "rmsprop_eps")
    ent_coef: float = copy_field(TrainConfig, "ent_coef")
    value_coef: float = copy_field(TrainConfig, "value_coef")
    max_grad_norm: float = copy_field(TrainConfig, "max_grad_norm")
    advantage: str = copy_field(TrainConfig, "advantage")
    reward_clip: bool = copy_field(TrainConfig, "reward_clip")
    life_loss_terminal: bool = copy_field(TrainConfig, "life_loss_terminal")
    device: str = copy_field(TrainConfig, "device")
    distill: str = copy_field(TrainConfig, "distill")
    distill_actor_weight: float = copy_field(TrainConfig, "distill_actor_weight")
    distill_critic_weight: float = copy_field(TrainConfig, "distill_critic_weight")
