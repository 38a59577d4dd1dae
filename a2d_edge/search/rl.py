"""Algorithm 1: the supernet's weights learn by the A2C + distillation objective while its
architecture logits learn by that objective plus lambda * expected cost, one-level (same
rollout, every step) or bi-level (alphas on a separate rollout).

Outputs in the run folder: `supernet.pt` (resumable state, `a2d.supernet/2` of method rl; an
older run's `a2d.supernet/1` resumes too), `arch.json` (the derived argmax
architecture, for `a2d train --arch`), `search.json` (op probabilities, derived FLOPs, cost
settings, the trajectory of tau / alpha entropy / expected FLOPs / derived-net score).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from a2d_edge.errors import A2DError
from a2d_edge.hw.lut import LatencyTable
from a2d_edge.nets.space import SPACES, SearchSpace, get_space
from a2d_edge.nets.supernet import Supernet, as_agent, gumbel_weights, sample_gumbel
from a2d_edge.rl.evaluate import evaluate_agent
from a2d_edge.rl.loop import default_hooks, run_loop
from a2d_edge.rl.rollout import Rollout
from a2d_edge.rl.schedule import lr_at
from a2d_edge.rl.setup import setup_run
from a2d_edge.rl.trainer import TrainLoop
from a2d_edge.rl.update import a2d_update
from a2d_edge.search.config import SearchConfig
from a2d_edge.search.cost import (
    FlopsTable,
    alpha_entropy,
    latency_cost,
    tau_at,
)
from a2d_edge.search.prepare import check_flags, latency_is_local, resolve_lut, warn_lookalike
from a2d_edge.search.supernet_file import read_supernet, write_supernet
from a2d_edge.utils.dist import (
    DistInfo,
)
from a2d_edge.utils.io import write_json
from a2d_edge.utils.threads import learner_threads

SEARCH_SCHEMA = "a2d.search/1"


@dataclass
class SearchResult:
    run_dir: Path
    step: int
    arch: dict[str, Any]
    flops: int
    final_eval: float | None


def prepare(cfg: SearchConfig, say: bool = True) -> tuple[SearchSpace, LatencyTable | None]:
    """Check the space, the table and the budget before anything is written; `say`: print
    which table is used and whether it is another host's."""
    space = get_space(cfg.space_preset())
    check_flags(cfg)
    if not cfg.lut:
        return space, None
    table = resolve_lut(cfg, say)
    if not isinstance(table, LatencyTable):
        raise A2DError(
            f"latency table {cfg.lut} is a width table of {table.space.name!r}: search it with "
            f"--preset {table.space.name}"
        )
    if cfg.preset == "auto" and SPACES.get(table.space.name) == table.space:
        space = table.space  # the table says which preset it was profiled for
    if say:
        warn_lookalike(cfg, table)
    if table.space != space:
        raise A2DError(
            f"latency table {cfg.lut} was profiled for space {table.space.name!r}, which is not "
            f"the {space.name!r} preset: profile it with a2d-profile --preset {space.name}"
        )
    table.matrix_us()  # every op of every block must be there
    if cfg.latency_budget_ms > 0:
        fastest, _ = table.fastest()
        if cfg.latency_budget_ms < fastest:
            raise A2DError(
                f"latency budget {cfg.latency_budget_ms:g} ms is below the fastest architecture "
                f"of the {space.name!r} space on this table: {fastest:.3f} ms"
            )
    return space, table


def search(
    cfg: SearchConfig, run_dir: str | Path, resume: bool = False, dist: DistInfo | None = None
) -> SearchResult:
    run_dir = Path(run_dir)
    dist = dist or DistInfo()
    if cfg.method != "rl":
        raise A2DError("this is the RL-driven search (--method rl); --method distill runs "
                       "a2d_edge.search.pipeline.distill_search")  # fmt: skip
    space, table = prepare(cfg, say=dist.main)
    path = run_dir / "supernet.pt"

    def build(ckpt: dict[str, Any] | None, collector: Any) -> torch.nn.Module:
        nonlocal space
        if ckpt is None:
            return Supernet(space, collector.n_actions)
        space = SearchSpace.from_dict(ckpt["space"])
        net = Supernet(space, collector.n_actions)
        try:
            net.load_state_dict(ckpt["model"])
        except RuntimeError as e:
            raise A2DError(f"supernet checkpoint does not match its space: {e}") from None
        return net

    run = setup_run(cfg, run_dir, dist=dist, build=build,
                    params=lambda m: m.weight_parameters(),  # type: ignore[operator]
                    load=(lambda: load_search_checkpoint(path)) if resume else None)  # fmt: skip
    supernet: Any = run.model
    a_opt = torch.optim.Adam(
        supernet.arch_parameters(), lr=cfg.alpha_lr, betas=(cfg.alpha_beta1, 0.999)
    )
    if run.ckpt is not None:
        a_opt.load_state_dict(run.ckpt["alpha_optimizer"])
    loop = SearchLoop(
        cfg=run.cfg, run_dir=run_dir, model=supernet, optimizer=run.optimizer,
        collector=run.collector, logger=run.logger, state=run.state, teacher=run.teacher,
        dist=dist, hooks=default_hooks(run.cfg, run.state, dist), space=space, a_opt=a_opt,
        trajectory=list(run.ckpt["trajectory"]) if run.ckpt else [], table=table,
    )  # fmt: skip
    run_loop(loop, "search")
    arch = loop.write_outputs(final=True) if dist.main else supernet.derive()
    flops = space.arch_flops(arch["ops"], run.collector.n_actions)
    return SearchResult(run_dir, run.state.step, arch, flops, run.state.last_eval)


def load_search_checkpoint(path: Path) -> dict[str, Any]:
    """The RL search's supernet.pt: `a2d.supernet/2` of method rl, or an older
    `a2d.supernet/1`; the distillation search's is refused in one line."""
    return read_supernet(path, "rl", "search checkpoint")


class SearchLoop(TrainLoop):
    """Algorithm 1's update (weights, architecture logits, or both, per rollout), the supernet's
    checkpoint and the derived net's evaluation; the training loop's own machinery otherwise."""

    model: Supernet

    def __init__(
        self,
        *,
        space: SearchSpace,
        a_opt: torch.optim.Optimizer,
        trajectory: list[dict[str, Any]],
        table: LatencyTable | None = None,
        **train: Any,
    ) -> None:
        super().__init__(**train)
        self.table = table
        self.space = space
        self.a_opt = a_opt
        self.trajectory = trajectory
        self.flops = FlopsTable(space, self.collector.n_actions)
        self.tau = self.cfg_s.tau

    @property
    def cfg_s(self) -> SearchConfig:
        assert isinstance(self.cfg, SearchConfig)
        return self.cfg

    def alpha_active(self) -> bool:
        """Whether this update moves the architecture logits (false during --alpha-warmup)."""
        return self.state.step >= self.cfg_s.alpha_warmup

    def steps_per_update(self) -> int:
        bi_level = self.cfg_s.optimization == "bi-level" and self.alpha_active()
        rollouts = 2 if bi_level else 1
        return rollouts * self.cfg.rollout * self.collector.num_envs * self.dist.world

    def update(self) -> dict[str, float]:
        cfg, st = self.cfg_s, self.state
        lr = lr_at(st.step, cfg.steps, cfg.lr, cfg.lr_final, cfg.lr_constant_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.tau = tau_at(st.step, cfg.tau, cfg.tau_decay, cfg.tau_every)
        if not self.alpha_active():
            scalars = self._step(update_weights=True, update_alpha=False, draw=0)
        elif cfg.optimization == "one-level":
            scalars = self._step(update_weights=True, update_alpha=True, draw=0)
        else:
            scalars = self._step(update_weights=True, update_alpha=False, draw=0)
            scalars.update(self._step(update_weights=False, update_alpha=True, draw=1))
        scalars.update(lr=lr, tau=self.tau, alpha_entropy=alpha_entropy(self.model.alpha))
        scalars["alpha_active"] = float(self.alpha_active())
        return scalars

    def _step(self, update_weights: bool, update_alpha: bool, draw: int) -> dict[str, float]:
        """One rollout under one sampled architecture, then the chosen parameter updates.

        The Gumbel noise comes from a generator keyed by (seed, update, draw): every rank
        samples the same architecture, and a resumed search continues the same sequence."""
        cfg = self.cfg_s
        hard = cfg.mode == "hard"
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + 2 * self.state.updates + draw)
        noise = sample_gumbel(tuple(self.model.alpha.shape), generator=gen)
        noise = noise.to(self.model.alpha.device)
        with torch.no_grad():
            acting = gumbel_weights(self.model.alpha, noise, self.tau, hard)
        ro: Rollout = self.collector.collect(
            lambda x: self.model(x, acting),
            cfg.rollout,
            keep_obs=True,
            autocast=cfg.precision == "bf16",
            keep_graph=False,
        )
        with learner_threads(cfg):
            weights = gumbel_weights(self.model.alpha, noise, self.tau, hard)
            expected: dict[str, torch.Tensor] = {}

            def cost() -> dict[str, torch.Tensor]:
                """Eq. 9's cost of the sampled weights, on the architecture logits' steps."""
                expected["mflops"] = self.flops.expected(weights).float() / 1e6
                if not update_alpha:
                    return {}
                terms = {"cost/flops": cfg.flops_weight * expected["mflops"]}
                if self.table is not None:
                    expected["ms"] = self.table.expected(weights).float()
                    terms["cost/latency"] = latency_cost(
                        expected["ms"], cfg.latency_budget_ms, cfg.latency_weight
                    )
                return terms

            stepped = [self.optimizer] if update_weights else []
            stats = a2d_update(
                forward=lambda x: self.model(x, weights),
                bootstrap=lambda x: self.model(x, acting),
                ro=ro,
                cfg=cfg,
                teacher=self.teacher,
                zero=[self.optimizer, self.a_opt],
                step=[*stepped, self.a_opt] if update_alpha else stepped,
                average=self.model.parameters(),
                clip=self.model.weight_parameters() if update_weights else None,
                dist=self.dist,
                bf16=cfg.precision == "bf16",
                extra=cost,
            )
        scalars = stats.scalars()
        if "ms" in expected:
            scalars["expected_ms"] = float(expected["ms"].detach())
        prefix = "" if update_weights else "alpha_step/"
        out = {prefix + k: v for k, v in scalars.items()}
        out[prefix + "expected_mflops"] = float(expected["mflops"].detach())
        return out

    def evaluate(self) -> None:
        """Score of the derived (argmax) net with the supernet's weights (the Fig. 2 curve)."""
        cfg, st = self.cfg_s, self.state
        arch = self.model.derive()
        agent = as_agent(self.model, arch).to(self.model.alpha.device)
        result = evaluate_agent(
            agent, cfg.env, cfg.eval_episodes, seed=10_000_019 + st.step, settings=cfg.atari()
        )
        st.last_eval = result.mean
        st.best_eval = max(st.best_eval, result.mean)
        probs = self.model.probabilities()
        point = {
            "step": st.step,
            "tau": self.tau,
            "alpha_entropy": alpha_entropy(self.model.alpha),
            "expected_mflops": float(self.flops.expected(probs)) / 1e6,
            "derived_mflops": self.space.arch_flops(arch["ops"], self.collector.n_actions) / 1e6,
            "score_mean": result.mean,
            "score_std": result.std,
            "wall_time": st.elapsed,
        }
        self.trajectory.append(point)
        self.logger.log(st.step, "eval", {k: v for k, v in point.items() if k != "step"})
        self.write_outputs()

    def checkpoint(self, name: str = "supernet.pt") -> None:
        """The resumable state (`supernet.pt`, or `name`) and the outputs, on the main rank."""
        if not self.dist.main:
            return
        state = {
            **self.loop_checkpoint(),
            "space": self.space.to_dict(),
            "alpha_optimizer": self.a_opt.state_dict(),
            "trajectory": self.trajectory,
        }
        write_supernet(self.run_dir / name, "rl", state)
        self.write_outputs()

    def derived_arch(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The argmax arch, repaired to the latency budget when it misses it by the table."""
        arch = self.model.derive()
        if self.table is None:
            return arch, {}
        cfg, table = self.cfg_s, self.table
        info: dict[str, Any] = {
            "table": table.path or cfg.lut,
            "table_mode": table.mode,
            "table_controller": table.meta.get("controller"),
            "table_device": table.meta.get("device"),
            "table_backend": table.meta.get("backend"),
            "table_precision": table.meta.get("precision"),
            "budget_ms": cfg.latency_budget_ms or None,
            "argmax_predicted_ms": table.predict(arch),
            "repaired": False,
        }
        if "recalibration" in table.meta:  # rescaled to this sitting before it predicted
            info["recalibration"] = table.meta["recalibration"]
        if cfg.latency_budget_ms > 0 and info["argmax_predicted_ms"] > cfg.latency_budget_ms:
            arch, swaps = table.repair(arch, cfg.latency_budget_ms, self.model.probabilities())
            info.update(repaired=True, repair_swaps=swaps)
        info["predicted_ms"] = table.predict(arch)
        return arch, info

    def write_outputs(self, final: bool = False) -> dict[str, Any]:
        cfg = self.cfg_s
        arch, latency = self.derived_arch()
        if final and self.table is not None and latency_is_local(self.table):
            from a2d_edge.search.timing import measured_beside_teacher

            latency.update(measured_beside_teacher(
                self.table, arch, cfg.teacher, self.collector.n_actions, cfg.latency_budget_ms
            ))  # fmt: skip
        if final and latency.get("repaired"):
            print(
                f"derived arch missed the {cfg.latency_budget_ms:g} ms budget "
                f"({latency['argmax_predicted_ms']:.3f} ms by the table); repaired with "
                f"{len(latency['repair_swaps'])} swap(s) to {latency['predicted_ms']:.3f} ms"
            )
        n_actions = self.collector.n_actions
        probs = self.model.probabilities()
        write_json(self.run_dir / "arch.json", arch)
        write_json(
            self.run_dir / "search.json",
            {
                "schema": SEARCH_SCHEMA,
                "env_id": cfg.env,
                "preset": self.space.name,
                "step": self.state.step,
                "tau": self.tau,
                "mode": cfg.mode,
                "optimization": cfg.optimization,
                "alpha_warmup": cfg.alpha_warmup,
                "distill": cfg.distill_mode(),
                "teacher": cfg.teacher,
                "ops": list(self.space.ops),
                "probabilities": [[round(float(p), 6) for p in row] for row in probs],
                "derived": arch,
                "derived_flops": self.space.arch_flops(arch["ops"], n_actions),
                "expected_flops": float(self.flops.expected(probs)),
                "space_flops": {"min": self.flops.minimum(), "max": self.flops.maximum()},
                "budget": {
                    "flops_weight_per_mflop": cfg.flops_weight,
                    "latency_budget_ms": cfg.latency_budget_ms or None,
                    "latency_weight": cfg.latency_weight if self.table else None,
                },
                "latency": latency or None,
                "trajectory": self.trajectory,
            },
        )
        return arch

    def postfix(self) -> str:
        probs = self.model.probabilities()
        parts = [
            f"{self.sps:,.0f} steps/s",
            f"tau {self.tau:.2f}",
            f"H(a) {alpha_entropy(self.model.alpha):.2f}",
            f"E[F] {float(self.flops.expected(probs)) / 1e6:.1f}M",
        ]
        if self.scores:
            parts.append(f"score {sum(self.scores) / len(self.scores):.1f}")
        if self.state.last_eval is not None:
            parts.append(f"derived {self.state.last_eval:.1f}")
        return " | ".join(parts)
