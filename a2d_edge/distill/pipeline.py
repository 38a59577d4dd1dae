"""`a2d search --method distill`: supernet -> selection -> finish -> evaluation, in one folder.

    RUN/supernet.pt   the supernet phase (resumable; `--supernet RUN` reuses it)
    RUN/frames.npz    held-out teacher-labelled frames the paths are judged on
    RUN/arch.json     the selected arch (for a2d train --arch, a2d export, a2d-profile)
    RUN/search.json   how it was selected: method, budget, prediction, fitness, history
    RUN/finish.pt     the finish phase (resumable)
    RUN/agent.pt      the deployable agent (a2d eval / export / run), with its final score
    RUN/result.json   the summary: score, latency predicted and measured, FLOPs, wall times

Each phase is skipped when its output is complete and resumed from its checkpoint otherwise,
so `a2d search --resume RUN` after a kill continues where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from a2d_edge.config import to_dict
from a2d_edge.distill.loop import FORMAT, DistillLoop, PhaseSettings
from a2d_edge.distill.replay import LabelledReplay, check_fits
from a2d_edge.distill.select import (
    Frames,
    Judgement,
    evolve,
    judge_agent,
    judge_path,
    judging_frames,
    latency_record,
    path_agent,
    rerank,
)
from a2d_edge.envs import EvalResult
from a2d_edge.errors import A2DError
from a2d_edge.hw.table import Table
from a2d_edge.nets import build_agent
from a2d_edge.nets.agent import ActorCritic
from a2d_edge.nets.arch import Arch
from a2d_edge.nets.spaces import Space, SupernetNet, space_from_dict
from a2d_edge.rl.evaluate import evaluate_agent
from a2d_edge.rl.loop import LoopState, default_hooks, run_loop
from a2d_edge.rl.setup import make_collector, open_logger
from a2d_edge.rl.teacher import Teacher
from a2d_edge.search.config import SearchConfig
from a2d_edge.search.loop import SEARCH_SCHEMA
from a2d_edge.search.prepare import latency_is_local, prepare, resolve_lut
from a2d_edge.sources.checkpoint import save_checkpoint, torch_load
from a2d_edge.sources.names import zoo_supernet
from a2d_edge.utils.accel import PRECISION_FILE, resolve_precision, set_rng_state
from a2d_edge.utils.dist import DistInfo
from a2d_edge.utils.io import atomic_write, read_json, write_json
from a2d_edge.utils.threads import learner_threads


@dataclass
class DistillResult:
    run_dir: Path
    arch: dict[str, Any]
    agent: Path
    score: EvalResult | None
    summary: dict[str, Any]


def phase_settings(cfg: SearchConfig, steps: int, eval_every: int) -> PhaseSettings:
    return PhaseSettings(
        env=cfg.env,
        steps=steps,
        log_every=cfg.log_every,
        eval_every=eval_every,
        eval_episodes=cfg.eval_episodes,
        checkpoint_every=cfg.checkpoint_every,
        progress=cfg.progress,
    )


def load_phase(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    ckpt = torch_load(path, "distillation checkpoint")
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise A2DError(f"{path} is not an a2d distillation checkpoint (format {FORMAT!r})")
    return ckpt


def phase_precision(
    cfg: SearchConfig,
    folder: Path,
    model: torch.nn.Module,
    obs_shape: tuple[int, ...],
    resumed: bool,
) -> str:
    """The precision of a phase's weight steps: --precision auto's choice, timed at their
    batch and threads and recorded in `folder`; a phase resumed without a record began before
    the distillation trained in bf16, and continues in the fp32 it began in."""
    if resumed and cfg.precision == "auto" and not (folder / PRECISION_FILE).exists():
        print(f"precision: auto -> fp32 ({folder.name} began in fp32, before a recorded choice)")
        return "fp32"
    with learner_threads(cfg):  # timed as the weight steps run: their batch, their threads
        return resolve_precision(
            cfg.precision, torch.device("cpu"), model, obs_shape,
            batch=cfg.batch_size, run_dir=folder,
        )  # fmt: skip


def run_phase(
    cfg: SearchConfig,
    run_dir: Path,
    name: str,
    model: torch.nn.Module,
    teacher: Teacher,
    steps: int,
    table: Table | None = None,
    eval_every: int = 0,
    evaluate: Any = None,
    space: Space | None = None,
) -> DistillLoop:
    """Train `model` by distillation for `steps` agent steps (resumed from RUN/name.pt);
    `space`: a supernet's, recorded in the checkpoint."""
    path = run_dir / f"{name}.pt"
    ckpt = load_phase(path)
    state = LoopState() if ckpt is None else LoopState.from_checkpoint(ckpt)
    if ckpt is not None:
        set_rng_state(ckpt["rng"], torch.device("cpu"))
    else:
        torch.manual_seed(cfg.seed)
    (run_dir / name).mkdir(parents=True, exist_ok=True)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    collector = make_collector(cfg, state.step)
    obs_shape, n_actions = collector.obs_shape, collector.n_actions
    precision = phase_precision(cfg, run_dir / name, model, obs_shape, resumed=ckpt is not None)
    cfg = replace(cfg, precision=precision)
    phase = phase_settings(cfg, steps, eval_every)
    loop = DistillLoop(
        cfg=cfg,
        phase=phase,
        run_dir=run_dir,
        checkpoint_path=path,
        model=model,
        teacher=teacher,
        collector=collector,
        logger=open_logger(run_dir / name, state.step if ckpt else None, DistInfo()),
        state=state,
        replay=LabelledReplay(cfg.replay_size, obs_shape, n_actions),
        holdout=LabelledReplay(cfg.holdout_size, obs_shape, n_actions),
        table=table,
        hooks=default_hooks(phase, state, DistInfo()),
        evaluate=evaluate,
        meta={
            "env_id": cfg.env,
            "n_actions": n_actions,
            "kind": name,
            **({"space": space.to_dict()} if space is not None else {}),
        },
    )
    if ckpt is not None:
        loop.restore(ckpt)
    if state.step < steps:
        loop.fill(cfg.batch_size * 4)
        run_loop(loop, resume_command(run_dir))
        loop.checkpoint()
    else:
        collector.close()
        loop.logger.close()
    return loop


def resume_command(run_dir: Path) -> str:
    """The command that resumes `run_dir`: its config.json's kind (`a2d distill` trains a
    given arch with the finish's recipe, `a2d search` runs every phase)."""
    path = run_dir / "config.json"
    kind = read_json(path, "run config").get("kind") if path.exists() else None
    return kind if kind in ("search", "distill") else "search"


# ----- phase 1: the supernet -----
def supernet_phase(
    cfg: SearchConfig,
    run_dir: Path,
    supernet: SupernetNet,
    teacher: Teacher,
    table: Table | None,
) -> tuple[SupernetNet, Frames]:
    """`supernet` trained by distillation (RUN/supernet.pt), and the held-out frames its paths
    are judged on (RUN/frames.npz)."""
    t = time.perf_counter()
    module = cast(torch.nn.Module, supernet)  # every supernet is a module (`SupernetNet`)
    loop = run_phase(cfg, run_dir, "supernet", module, teacher, cfg.supernet_steps, table,
                     space=supernet.space)  # fmt: skip
    frames_path = run_dir / "frames.npz"
    if not frames_path.exists():  # a phase resumed after its end has no held-out buffer left
        held = loop.holdout
        frames = (
            Frames(*held.all())
            if len(held) >= 256
            else collect_frames(cfg, teacher, cfg.holdout_size)
        )
        save_frames(frames_path, frames)
    add_wall(run_dir, "supernet", time.perf_counter() - t)
    return supernet, load_frames(frames_path)


def collect_frames(cfg: SearchConfig, teacher: Teacher, n: int) -> Frames:
    """n frames the teacher plays, labelled by it (for a supernet without its own): the same
    frames for the same --seed (its actions drawn from a seeded generator, not the global one),
    so a selection from a shipped supernet is reproducible."""
    collector = make_collector(cfg, 10_000_019)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed + 10_000_019)
            ro = collector.collect(teacher.model, -(-n // collector.num_envs), keep_graph=False)
    finally:
        collector.close()
    assert ro.obs is not None
    obs = ro.obs[:n]
    with torch.no_grad():
        logits, values = teacher.model(obs)
    return Frames(obs.contiguous(), logits.float(), values.float())


def save_frames(path: Path, frames: Frames) -> None:
    def write(f: Any) -> None:
        np.savez_compressed(
            f, obs=frames.obs.numpy(), logits=frames.logits.numpy(), values=frames.values.numpy()
        )

    atomic_write(path, write)


def load_frames(path: Path) -> Frames:
    try:
        with np.load(path) as data:
            obs, logits, values = data["obs"], data["logits"], data["values"]
    except (OSError, KeyError, ValueError) as e:
        raise A2DError(f"corrupt or foreign frames file {path}: {e}") from None
    if obs.dtype != np.uint8 or len(obs) != len(logits) or len(obs) != len(values):
        raise A2DError(f"{path}: frames, logits and values do not match")
    return Frames(torch.from_numpy(obs), torch.from_numpy(logits), torch.from_numpy(values))


def supernet_path(spec: str) -> Path:
    """`--supernet`: a run folder, its supernet.pt, or zoo:NAME (a2d_edge/zoo/supernets/)."""
    shipped = zoo_supernet(spec)
    if shipped is not None:
        return shipped
    path = Path(spec)
    return path / "supernet.pt" if path.is_dir() else path


def load_supernet(spec: str, env_id: str, n_actions: int) -> tuple[SupernetNet, Path]:
    """A trained supernet (of ops or of widths) of another run or of the zoo, checked against
    the game and actions."""
    from a2d_edge.envs import resolve_game

    path = supernet_path(spec)
    ckpt = load_phase(path)
    if ckpt is None or ckpt.get("kind", "supernet") != "supernet":
        raise A2DError(f"no trained supernet at {path}")
    trained_on = str(ckpt.get("env_id", ""))
    if resolve_game(trained_on) != resolve_game(env_id):
        raise A2DError(f"supernet {path} was trained on {trained_on}, not on {env_id}")
    if int(ckpt.get("n_actions", n_actions)) != n_actions:
        raise A2DError(f"supernet {path} has {ckpt['n_actions']} actions, {env_id} {n_actions}")
    supernet = space_from_dict(ckpt.get("space")).supernet(n_actions)
    try:
        supernet.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in ckpt["model"].items()}
        )
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise A2DError(f"supernet {path} does not match its space / action set: {first}") from None
    return supernet, path


def supernet_frames(cfg: SearchConfig, source: Path, teacher: Teacher) -> Frames:
    """The held-out frames beside a reused supernet, else fresh ones the teacher plays."""
    path = source.parent / "frames.npz"
    if path.exists() and source.name == "supernet.pt":
        return load_frames(path)
    print(f"no held-out frames beside {source}: the teacher plays {cfg.holdout_size:,} of them")
    return collect_frames(cfg, teacher, cfg.holdout_size)


# ----- phase 2: selection -----
def judge_ops(
    cfg: SearchConfig,
    supernet: SupernetNet,
    frames: tuple[Frames, Frames],
    arch: Arch,
    steps: int,
) -> Judgement:
    """`arch` judged as the selection judges: on `judging_frames`, after `steps` of
    adaptation."""
    bn, judge = frames
    return judge_path(supernet, arch, bn, judge, cfg.temperature, cfg.value_weight, steps,
                      cfg.distill_lr)  # fmt: skip


def labels(space: Space) -> tuple[Any, ...]:
    """The words of the choices at a position (an op space's ops), in their index order."""
    n = len(space.choice_counts())
    return tuple(
        space.label(space.from_genes((i,) * n))[0] for i in range(space.choice_counts()[0])
    )


def select_arch(
    cfg: SearchConfig,
    supernet: SupernetNet,
    frames: Frames,
    table: Table | None,
    n_actions: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The arch to finish, by --select (a space without architecture logits is judged whole:
    `select_exhaustive`), and what search.json says of it."""
    space = supernet.space
    if not space.has_alpha:
        return select_exhaustive(cfg, supernet, frames, table, n_actions)
    bn, judge = judging_frames(frames, cfg.bn_frames, cfg.judge_frames)
    budget = cfg.latency_budget_ms
    rng = np.random.default_rng(cfg.seed + 31)
    words = labels(space)

    def arch_of(ops: tuple[Any, ...]) -> Arch:
        return space.from_genes(tuple(words.index(o) for o in ops))

    def predict(ops: tuple[Any, ...]) -> float | None:
        return table.predict(arch_of(ops)) if table is not None else None

    def repair(ops: tuple[Any, ...]) -> tuple[Any, ...]:
        if table is None or budget <= 0:
            return ops
        fixed, _ = table.repair(arch_of(ops), budget * (1.0 - cfg.budget_margin))
        return tuple(space.label(fixed))

    def judged(ops: tuple[Any, ...], steps: int = cfg.judge_adapt_steps) -> Judgement:
        return judge_ops(cfg, supernet, (bn, judge), arch_of(ops), steps)

    def fitness(ops: tuple[Any, ...]) -> float:
        return judged(ops).loss

    def describe(ops: tuple[Any, ...]) -> dict[str, Any]:
        return {
            "predicted_ms": predict(ops),
            "mflops": space.flops(arch_of(ops), n_actions) / 1e6,
        }

    t = time.perf_counter()
    info: dict[str, Any] = {"select": cfg.select}
    with learner_threads(cfg) as threads:  # paths adapted and judged on the learner's threads
        if cfg.select == "evolution":
            evo = evolve(
                words,
                len(space.choice_counts()),
                fitness,
                repair,
                cfg.population,
                cfg.generations,
                rng,
                describe,
            )
            ops = evo.best
            info.update(
                judged=evo.judged,
                history=evo.history,
                population=cfg.population,
                generations=cfg.generations,
            )
            if cfg.rerank_top > 0:
                ops, again = rerank(
                    evo.ranked, cfg.rerank_top, lambda o: judged(o, cfg.rerank_adapt_steps)
                )
                info["rerank"] = {
                    "top": cfg.rerank_top,
                    "adapt_steps": cfg.rerank_adapt_steps,
                    "evolution_best": list(evo.best),
                    "judged": again,
                }
        else:
            ops = tuple(space.label(supernet.derive()))
            argmax = ops
            ops = repair(ops)
            probabilities = supernet.probabilities()
            info.update(
                argmax=list(argmax),
                repaired=ops != argmax,
                probabilities=[[round(float(p), 6) for p in r] for r in probabilities]
                if probabilities is not None
                else None,
            )
        info.update(
            judgement=judged(ops).to_dict(),
            select_seconds=time.perf_counter() - t,
            select_threads=threads,
            budget_ms=budget or None,
            budget_margin=cfg.budget_margin,
        )
    arch = arch_of(ops)
    return arch, {**info, **latency_record(table, arch, cfg.lut)}


def select_exhaustive(
    cfg: SearchConfig,
    supernet: SupernetNet,
    frames: Frames,
    table: Table | None,
    n_actions: int,
) -> tuple[Arch, dict[str, Any]]:
    """Every arch of the space that the table fits under the budget (x 1 - --budget-margin),
    judged with the supernet's weights after --judge-adapt-steps of adaptation on the held-out
    frames; the lowest held-out loss wins (`--rerank-top N` judges the best N again with
    --rerank-adapt-steps), so no arch over the budget is ever returned."""
    space = supernet.space
    split = judging_frames(frames, cfg.bn_frames, cfg.judge_frames)
    limit = cfg.latency_budget_ms * (1.0 - cfg.budget_margin)

    def fits(arch: Arch) -> bool:
        return table is None or cfg.latency_budget_ms <= 0 or table.predict(arch) <= limit

    pool = [a for a in space.candidates() if fits(a)]  # the width table's `within` order
    if not pool:
        raise A2DError(f"no arch of {space.name!r} fits the budget on this table")
    t = time.perf_counter()

    def judge(arch: Arch, steps: int) -> Judgement:
        return judge_ops(cfg, supernet, split, arch, steps)

    def describe(arch: Arch) -> dict[str, Any]:
        return {
            space.kind: space.label(arch),
            "predicted_ms": table.predict(arch) if table is not None else None,
            "mflops": space.flops(arch, n_actions) / 1e6,
        }

    with learner_threads(cfg) as threads:
        judged = [(a, judge(a, cfg.judge_adapt_steps)) for a in pool]
        judged.sort(key=lambda aj: aj[1].loss)
        best = judged[0][0]
        info: dict[str, Any] = {
            "select": "exhaustive",
            "judged": len(judged),
            "candidates": [{**describe(a), **j.to_dict()} for a, j in judged],
        }
        if cfg.rerank_top > 0:
            again = [(a, judge(a, cfg.rerank_adapt_steps)) for a, _ in judged[: cfg.rerank_top]]
            best = min(again, key=lambda aj: aj[1].loss)[0]
            info["rerank"] = {
                "top": cfg.rerank_top,
                "adapt_steps": cfg.rerank_adapt_steps,
                "exhaustive_best": describe(judged[0][0])[space.kind],
                "judged": [{**describe(a), **j.to_dict()} for a, j in again],
            }
        info.update(
            judgement=next(j for a, j in judged if a == best).to_dict(),
            select_seconds=time.perf_counter() - t,
            select_threads=threads,
            budget_ms=cfg.latency_budget_ms or None,
            budget_margin=cfg.budget_margin,
        )
    return best, {**info, **latency_record(table, best, cfg.lut)}


def measured_at_end(
    cfg: SearchConfig, arch: dict[str, Any], n_actions: int, budget_ms: float | None
) -> dict[str, Any]:
    """The agent timed here beside its teacher in one sitting (`search.timing`), with the
    --lut table's backend and settings, when that table is this host's; else nothing."""
    from a2d_edge.search.timing import measured_beside_teacher

    if not cfg.lut:
        return {}
    table = resolve_lut(cfg, say=False, recalibrate=False)  # only its settings time the nets
    if not latency_is_local(table):
        return {}
    return measured_beside_teacher(table, arch, cfg.teacher, n_actions, budget_ms)


# ----- phase 3: the finish -----
def start_agent(
    cfg: SearchConfig, arch: dict[str, Any], supernet: SupernetNet, frames: Frames, n_actions: int
) -> ActorCritic:
    """What the finish starts from: the supernet's weights for the selected arch (`inherit`,
    BN statistics recomputed on its own path where it has BN) or a fresh net (`scratch`)."""
    if cfg.finish_from == "inherit":
        return path_agent(supernet, arch, frames.split(cfg.bn_frames)[0])
    return build_agent(arch, n_actions)


def finish_phase(
    cfg: SearchConfig,
    run_dir: Path,
    agent: ActorCritic,
    frames: Frames,
    teacher: Teacher,
) -> ActorCritic:
    """`agent` (`start_agent`'s) trained by distillation (RUN/finish.pt); `frames`' part past
    the BN frames judges it at each evaluation."""
    if cfg.finish_steps == 0:
        return agent
    t = time.perf_counter()
    judge = frames.split(min(cfg.bn_frames, len(frames) // 2))[1]

    def evaluate(loop: DistillLoop) -> None:
        loop.model.eval()
        result = evaluate_agent(
            loop.model,
            cfg.env,
            cfg.eval_episodes,
            seed=10_000_019 + loop.state.step,
            settings=cfg.atari(),
        )
        held: dict[str, float] = {}
        if len(judge):
            j = judge_agent(loop.model, judge, cfg.temperature, cfg.value_weight)  # type: ignore[arg-type]
            held = {"heldout_kl": j.kl, "heldout_agreement": j.agreement}
        loop.state.last_eval = result.mean
        loop.state.best_eval = max(loop.state.best_eval, result.mean)
        loop.logger.log(
            loop.state.step,
            "eval",
            {"score_mean": result.mean, "score_std": result.std, **held},
        )

    run_phase(
        cfg,
        run_dir,
        "finish",
        agent,
        teacher,
        cfg.finish_steps,
        eval_every=cfg.eval_every,
        evaluate=evaluate,
    )
    add_wall(run_dir, "finish", time.perf_counter() - t)
    return agent.eval()


def add_wall(run_dir: Path, phase: str, seconds: float) -> None:
    path = run_dir / "walls.json"
    walls = read_json(path, "wall times") if path.exists() else {}
    walls[phase] = round(float(walls.get(phase, 0.0)) + seconds, 1)
    write_json(path, walls)


# ----- the whole -----
def predicted_or_none(table: Table, arch: dict[str, Any]) -> float | None:
    """The table's prediction of `arch`, or None for an arch outside its space (a hand-made
    net beside an op table: it is timed, not predicted)."""
    try:
        return table.predict(arch)
    except A2DError:
        return None


def teacher_latency_ms(table: Table, teacher: str, rounds: int = 5) -> float:
    """The teacher's latency on this host, timed as the table's entries were (same backend,
    precision, threads and timing mode): the fastest of `rounds` timings, since a budget taken
    as a fraction of it would loosen with a slow one (one single timing on host B read 0.426 ms
    against ~0.34). A width table that holds the teacher's arch gives its own entry: timed
    whole in the sitting that timed every candidate, so the budget's fraction is of the same
    clock as the candidates' latencies."""
    return teacher_latency(table, teacher, rounds)[0]


def teacher_latency(table: Table, teacher: str, rounds: int = 5) -> tuple[float, str]:
    """`teacher_latency_ms` and how it was taken, in words: the fastest of its rounds in one
    sitting (`search.timing.teacher_timing`, its median and spread beside), or the width
    table's entry."""
    from a2d_edge.search.timing import teacher_timing
    from a2d_edge.sources.checkpoint import load_checkpoint

    if not latency_is_local(table):
        raise A2DError(
            "--budget-of-teacher times the teacher here: it needs this host's table "
            f"({table.path} is another machine's); give --latency-budget-ms instead"
        )
    arch = load_checkpoint(teacher)["arch"]
    if table.space.contains(arch):
        # an arch of the table's space: its prediction (a width table's entry, timed whole in
        # the same sitting as every candidate)
        return table.predict(arch), f"its entry in the {table.KIND}"
    try:
        t = teacher_timing(table, arch, rounds)
    except A2DError:
        raise A2DError(
            f"could not time the teacher {teacher} with {table.path}'s backend"
        ) from None
    how = (
        f"fastest of {len(t.rounds_ms)} rounds; median {t.median_ms:.3f} ms, spread "
        f"{100 * t.spread:.0f}%"
    )
    return t.fastest_ms, how


def resolve_budget(cfg: SearchConfig) -> SearchConfig:
    """--budget-of-teacher F -> --latency-budget-ms F x the teacher's latency here (said in
    one line), so that a resumed run keeps the same budget."""
    if cfg.budget_of_teacher <= 0 or cfg.latency_budget_ms > 0:
        return cfg
    if not cfg.lut or not cfg.teacher:
        raise A2DError("--budget-of-teacher needs --lut TABLE and --teacher CKPT")
    table = resolve_lut(cfg, say=False)
    ms, how = teacher_latency(table, cfg.teacher)
    budget = round(cfg.budget_of_teacher * ms, 4)
    print(
        f"latency budget: {cfg.budget_of_teacher:g} x the teacher's {ms:.3f} ms measured "
        f"here ({table.describe_mode()}; {how}) = {budget:g} ms"
    )
    return replace(cfg, latency_budget_ms=budget, budget_teacher_ms=ms)


@dataclass
class Start:
    space: Space
    table: Table | None
    teacher: Teacher
    n_actions: int
    reused: tuple[SupernetNet, Path] | None


def check_start(cfg: SearchConfig) -> Start:
    """Everything a distillation search is refused for, in one line each, before anything is
    written: the table, the budget, the teacher (game and action set), the replay's memory,
    a reused supernet (game, space against the table)."""
    from a2d_edge.envs.atari import OBS_SHAPE, action_meanings

    space, table = prepare(cfg)
    if not cfg.teacher:
        raise A2DError("a2d search --method distill needs --teacher CKPT|zoo:NAME")
    for name in ("frames_per_update", "supernet_frames_per_update"):
        if getattr(cfg, name) % cfg.num_envs:
            flag = "--" + name.replace("_", "-")
            raise A2DError(
                f"{flag} {getattr(cfg, name)} is not a multiple of --num-envs {cfg.num_envs}"
            )
    n_actions = len(action_meanings(cfg.env))
    teacher = Teacher.load(cfg.teacher, cfg.env, n_actions)
    check_fits(cfg.replay_size + cfg.holdout_size, OBS_SHAPE, n_actions)
    reused = None
    if cfg.supernet:
        reused = load_supernet(cfg.supernet, cfg.env, n_actions)
        if table is not None and table.space != reused[0].space:
            raise A2DError(
                f"supernet {reused[1]} is of space {reused[0].space.name!r}, the "
                f"table {cfg.lut} of {table.space.name!r}"
            )
    return Start(reused[0].space if reused else space, table, teacher, n_actions, reused)


def distill_search(
    cfg: SearchConfig, run_dir: str | Path, start: Start | None = None
) -> DistillResult:
    """Run (or continue) every phase in `run_dir` (`start`: `check_start`'s, when the caller
    already checked), whichever the space's kind."""
    run_dir = Path(run_dir)
    start = start or check_start(cfg)
    torch.set_num_threads(cfg.threads)
    teacher, table, n_actions = start.teacher, start.table, start.n_actions
    if start.reused is not None:
        supernet, source = start.reused
        frames = supernet_frames(cfg, source, teacher)
    else:
        supernet, frames = supernet_phase(
            cfg, run_dir, start.space.supernet(n_actions), teacher, table
        )

    def select() -> tuple[dict[str, Any], dict[str, Any], int]:
        arch, info = select_arch(cfg, supernet, frames, table, n_actions)
        return arch, info, supernet.space.flops(arch, n_actions)

    arch = selection_phase(cfg, run_dir, supernet.space, select)
    agent = start_agent(cfg, arch, supernet, frames, n_actions)
    return finish_and_evaluate(cfg, run_dir, arch, agent, frames, teacher, n_actions)


def selection_phase(
    cfg: SearchConfig,
    run_dir: Path,
    space: Space,
    select: Callable[[], tuple[dict[str, Any], dict[str, Any], int]],
) -> dict[str, Any]:
    """The selected arch: RUN/search.json's when complete, else `select()`'s (arch, what
    search.json says of it, its FLOPs), written to RUN/arch.json and RUN/search.json."""
    search_path = run_dir / "search.json"
    done = read_json(search_path, "search record") if search_path.exists() else None
    if done and done.get("complete"):
        return done["derived"]  # type: ignore[no-any-return]
    t = time.perf_counter()
    arch, info, flops = select()
    write_json(run_dir / "arch.json", arch)
    write_json(
        search_path,
        {
            "schema": SEARCH_SCHEMA,
            "method": "distill",
            "env_id": cfg.env,
            "preset": space.name,
            "space": space.to_dict(),
            "teacher": cfg.teacher,
            "supernet": cfg.supernet or str(run_dir),
            "derived": arch,
            "derived_flops": flops,
            "latency": info,
            "complete": True,
        },
    )
    add_wall(run_dir, "select", time.perf_counter() - t)
    return arch


def finish_and_evaluate(
    cfg: SearchConfig,
    run_dir: Path,
    arch: dict[str, Any],
    agent: ActorCritic,
    frames: Frames,
    teacher: Teacher,
    n_actions: int,
) -> DistillResult:
    """The finish from `agent`, the optional A2C retrain and the final evaluation."""
    agent = finish_phase(cfg, run_dir, agent, frames, teacher)
    steps = {
        "supernet": 0 if cfg.supernet else cfg.supernet_steps,
        "finish": cfg.finish_steps,
        "a2c": cfg.finish_a2c_steps,
    }
    if cfg.finish_a2c_steps > 0:
        agent = a2c_finish(
            cfg, run_dir, arch, agent, n_actions, steps["supernet"] + steps["finish"]
        )
    record = read_json(run_dir / "search.json", "search record")
    return final(cfg, run_dir, arch, agent, record["latency"], record["derived_flops"] / 1e6, steps)


def a2c_finish(
    cfg: SearchConfig,
    run_dir: Path,
    arch: dict[str, Any],
    agent: ActorCritic,
    n_actions: int,
    steps_before: int,
) -> ActorCritic:
    """The paper's retrain: A2C + distillation from the finished agent (a2d train --init; the
    A2C run adds its own steps to the `steps_before` its init holds)."""
    from a2d_edge.rl.config import TrainConfig
    from a2d_edge.rl.trainer import start_run, train

    init = run_dir / "distilled.pt"
    save_agent(init, cfg, arch, agent, n_actions, steps_before, {})
    fields = {f: getattr(cfg, f) for f in TrainConfig.__dataclass_fields__}
    tcfg = TrainConfig(
        **{
            **fields,
            "arch": str(run_dir / "arch.json"),
            "init": str(init),
            "steps": cfg.finish_a2c_steps,
            "precision": cfg.precision,
        }
    )
    out = run_dir / "a2c"
    t = time.perf_counter()
    resume = (out / "agent.pt").exists()
    if not resume:
        start_run(tcfg, out)
    train(tcfg, out, resume=resume)
    add_wall(run_dir, "a2c", time.perf_counter() - t)
    from a2d_edge.sources.checkpoint import load_agent

    return load_agent(out / "agent.pt")[0]


def save_agent(
    path: Path,
    cfg: SearchConfig,
    arch: dict[str, Any],
    agent: ActorCritic,
    n_actions: int,
    step: int,
    extra: dict[str, Any],
) -> None:
    """An agent checkpoint of the distilled net; `step`: the agent steps behind its weights
    (every phase's that trained them)."""
    from a2d_edge.envs.atari import OBS_SHAPE

    save_checkpoint(
        path,
        {
            "arch": arch,
            "env_id": cfg.env,
            "obs_shape": list(OBS_SHAPE),
            "n_actions": n_actions,
            "step": step,
            "model": {k: v.detach().cpu().contiguous() for k, v in agent.state_dict().items()},
            "atari": cfg.atari().to_dict(),
            "teacher": cfg.teacher,
            "distill": "student-driven",
            "config": to_dict(cfg),
            **extra,
        },
    )


def final(
    cfg: SearchConfig,
    run_dir: Path,
    arch: dict[str, Any],
    agent: ActorCritic,
    latency: dict[str, Any],
    mflops: float,
    steps: dict[str, int],
) -> DistillResult:
    """The final evaluation, `agent.pt` and `result.json` (skipped when both exist)."""
    result_path, agent_path = run_dir / "result.json", run_dir / "agent.pt"
    if result_path.exists() and agent_path.exists():
        return DistillResult(run_dir, arch, agent_path, None, read_json(result_path, "result"))
    score = None
    t = time.perf_counter()
    if cfg.final_episodes > 0:
        score = evaluate_agent(
            agent, cfg.env, cfg.final_episodes, seed=20_000_003, settings=cfg.atari()
        )
    n_actions = int(agent.actor.out_features)
    latency = {**latency, **measured_at_end(cfg, arch, n_actions, latency.get("budget_ms"))}
    keep = ("budget_ms", "predicted_ms", "measured_ms", "measured_median_ms", "measured",
            "table", "table_mode", "recalibration")  # fmt: skip
    summary: dict[str, Any] = {
        "env_id": cfg.env,
        "arch": arch,
        "score": score.to_dict() if score else None,
        "latency": {k: latency.get(k) for k in keep}
        | ({"budget_teacher_ms": cfg.budget_teacher_ms} if cfg.budget_teacher_ms else {}),
        "mflops": mflops,
        "params": sum(p.numel() for p in agent.parameters()),
        "teacher": cfg.teacher,
        "steps": steps,
    }
    save_agent(
        agent_path,
        cfg,
        arch,
        agent,
        int(agent.actor.out_features),
        sum(steps.values()),
        {
            "elapsed": sum(read_json(run_dir / "walls.json", "wall times").values()),
            "eval": summary["score"],
            "search": summary["latency"],
        },
    )
    add_wall(run_dir, "eval", time.perf_counter() - t)
    summary["wall_seconds"] = read_json(run_dir / "walls.json", "wall times")
    write_json(result_path, summary)
    return DistillResult(run_dir, arch, agent_path, score, summary)


def distill_arch(cfg: SearchConfig, arch: dict[str, Any], run_dir: str | Path) -> DistillResult:
    """`a2d distill`: a given arch (a hand-made baseline) trained by the finish's recipe from
    scratch for --finish-steps, then evaluated; timed here with the --lut table's backend when
    it is this host's."""
    from a2d_edge.envs.atari import action_meanings
    from a2d_edge.hw.flops import fvcore_flops

    run_dir = Path(run_dir)
    n_actions = len(action_meanings(cfg.env))
    teacher = Teacher.load(cfg.teacher, cfg.env, n_actions)
    torch.set_num_threads(cfg.threads)
    agent = build_agent(arch, n_actions)
    empty = Frames(
        torch.zeros(0, 4, 84, 84, dtype=torch.uint8), torch.zeros(0, n_actions), torch.zeros(0)
    )
    agent = finish_phase(cfg, run_dir, agent, empty, teacher)
    latency: dict[str, Any] = {}
    if cfg.lut:  # the target's prediction (any host's table); `final` times it where it is ours
        table = resolve_lut(cfg, say=False)
        latency = {"predicted_ms": predicted_or_none(table, arch), "table": table.path}
        latency["table_mode"] = table.mode
        if "recalibration" in table.meta:
            latency["recalibration"] = table.meta["recalibration"]
    mflops = fvcore_flops(agent, batchnorm=False) / 1e6
    return final(cfg, run_dir, arch, agent, latency, mflops, {"finish": cfg.finish_steps})
