"""Selecting an arch of a trained supernet under a latency budget.

`judge_path` scores one arch: the supernet's weights for it (ops or widths), BatchNorm statistics
recomputed on its own activations, then the distillation loss, KL and greedy agreement with the
teacher on held-out frames. `evolve` is SPOS / OFA's evolutionary search over archs whose
predicted latency meets the budget: every arch it makes is repaired into the budget before it is
judged (so none over it is ever returned), fitness = the held-out loss (lower is better).
`rerank` judges the evolution's best few again with a longer adaptation and keeps the best.
`select_arch` is phase 2 by --select (evolution or the gradient's argmax, repaired into the
budget); `select_exhaustive` judges every fitting arch of a space without alpha.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from a2d_edge.errors import A2DError
from a2d_edge.hw.table import Table
from a2d_edge.nets.agent import ActorCritic
from a2d_edge.nets.arch import Arch
from a2d_edge.nets.spaces import Space, SupernetNet
from a2d_edge.search.bn import recalibrate_bn
from a2d_edge.search.config import SearchConfig
from a2d_edge.search.frames import Frames, judging_frames
from a2d_edge.search.losses import agreement, distill_loss
from a2d_edge.utils.threads import learner_threads

Ops = tuple[str, ...]


@dataclass(frozen=True)
class Judgement:
    loss: float
    kl: float
    mse: float
    agreement: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 6) for k, v in self.__dict__.items()}


@torch.no_grad()
def judge_agent(
    agent: ActorCritic, frames: Frames, temperature: float, value_weight: float, batch: int = 512
) -> Judgement:
    agent.eval()
    logits, values = zip(*(agent(x) for x in frames.batches(batch)), strict=True)
    s_logits, s_values = torch.cat(logits), torch.cat(values)
    loss, kl, mse = distill_loss(
        s_logits, s_values, frames.logits, frames.values, temperature, value_weight
    )
    return Judgement(float(loss), float(kl), float(mse), agreement(s_logits, frames.logits))


def path_agent(
    supernet: SupernetNet, arch: Arch, bn_frames: Frames, batch: int = 256
) -> ActorCritic:
    """The plain net of `arch` with the supernet's weights (`Space.extract`) and its own BN
    statistics (none to recompute without BN layers)."""
    agent = supernet.space.extract(supernet, arch)
    recalibrate_bn(agent, bn_frames.batches(batch))
    return agent


def adapt(
    agent: ActorCritic,
    frames: Frames,
    steps: int,
    lr: float,
    temperature: float,
    value_weight: float,
    seed: int = 0,
    batch: int = 256,
) -> None:
    """`steps` Adam steps of the inherited weights on `frames` (then BN recomputed): the path's
    own few-shot adaptation, which the paths the supernet trained most often do not need."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(agent.parameters(), lr=lr)
    agent.train()
    for _ in range(steps):
        idx = torch.randint(0, len(frames), (min(batch, len(frames)),), generator=gen)
        logits, values = agent(frames.obs[idx])
        loss, _, _ = distill_loss(
            logits, values, frames.logits[idx], frames.values[idx], temperature, value_weight
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    recalibrate_bn(agent, frames.batches(batch))


def judge_path(
    supernet: SupernetNet,
    arch: Arch,
    bn_frames: Frames,
    judge: Frames,
    temperature: float,
    value_weight: float,
    adapt_steps: int = 0,
    lr: float = 5e-4,
) -> Judgement:
    """Held-out loss of `arch` with the supernet's weights: BN recomputed, after `adapt_steps`
    Adam steps on `bn_frames` when asked."""
    agent = path_agent(supernet, arch, bn_frames)
    if adapt_steps > 0:
        adapt(agent, bn_frames, adapt_steps, lr, temperature, value_weight)
    return judge_agent(agent, judge, temperature, value_weight)


@dataclass(frozen=True)
class Evolution:
    best: Ops
    fitness: float
    judged: int
    history: list[dict[str, Any]]
    ranked: list[Ops]  # every arch judged, best first


def evolve(
    candidates: Ops,
    n_blocks: int,
    fitness: Callable[[Ops], float],
    repair: Callable[[Ops], Ops],
    population: int,
    generations: int,
    rng: np.random.Generator,
    describe: Callable[[Ops], dict[str, Any]] | None = None,
) -> Evolution:
    """Keep the better half of each generation; fill the rest with uniform crossovers of two
    parents and mutations (each block redrawn with probability 1/n_blocks, at least one), every
    child repaired into the budget. Fitness is cached per arch."""
    cache: dict[Ops, float] = {}

    def score(ops: Ops) -> float:
        if ops not in cache:
            cache[ops] = fitness(ops)
        return cache[ops]

    def draw() -> Ops:
        return tuple(candidates[int(i)] for i in rng.integers(0, len(candidates), n_blocks))

    def mutate(ops: Ops) -> Ops:
        out = list(ops)
        flips = rng.random(n_blocks) < 1.0 / n_blocks
        flips[rng.integers(0, n_blocks)] = True
        for b in np.flatnonzero(flips):
            out[b] = candidates[int(rng.integers(0, len(candidates)))]
        return tuple(out)

    def cross(a: Ops, b: Ops) -> Ops:
        take = rng.random(n_blocks) < 0.5
        return tuple(x if t else y for x, y, t in zip(a, b, take, strict=True))

    pop = list(dict.fromkeys(repair(draw()) for _ in range(population)))
    history: list[dict[str, Any]] = []
    for gen in range(generations):
        ranked = sorted(pop, key=score)
        best = ranked[0]
        history.append(
            {
                "generation": gen,
                "best": list(best),
                "fitness": score(best),
                "judged": len(cache),
                **(describe(best) if describe else {}),
            }
        )
        parents = ranked[: max(2, population // 2)]
        children: list[Ops] = []
        tries = 0
        while len(parents) + len(children) < population and tries < 20 * population:
            tries += 1
            if len(parents) > 1 and rng.random() < 0.5:
                i, j = rng.choice(len(parents), 2, replace=False)
                child = repair(mutate(cross(parents[i], parents[j])))
            else:
                child = repair(mutate(parents[int(rng.integers(0, len(parents)))]))
            if child not in parents and child not in children:
                children.append(child)
        pop = parents + children
    for ops in pop:  # the last generation's children, judged as every other
        score(ops)
    ranked = sorted(cache, key=cache.__getitem__)
    return Evolution(ranked[0], cache[ranked[0]], len(cache), history, ranked)


def rerank(
    ranked: list[Ops], top: int, judge: Callable[[Ops], Judgement]
) -> tuple[Ops, list[dict[str, Any]]]:
    """The best of the `top` first archs of `ranked` by a second, dearer `judge` (a longer
    adaptation, which ranks trained archs better: tools/proxy_rank.py), and each one's
    judgement, in `ranked`'s order."""
    if top < 1 or not ranked:
        raise ValueError("rerank needs at least one arch")
    judged = [(ops, judge(ops)) for ops in ranked[:top]]
    best = min(judged, key=lambda oj: oj[1].loss)[0]
    return best, [{"ops": list(o), **j.to_dict()} for o, j in judged]


def latency_record(table: Table | None, arch: dict[str, Any], lut: str) -> dict[str, Any]:
    """What search.json says of the selected arch's latency: the table's prediction, which
    table (`lut`: the path given, where the table has none) and how it was timed."""
    if table is None:
        return {}
    record = {
        "predicted_ms": table.predict(arch),
        "table": table.path or lut,
        "table_mode": table.mode,
        "table_backend": table.meta.get("backend"),
        "table_precision": table.meta.get("precision"),
    }
    if "recalibration" in table.meta:  # rescaled to this sitting before it predicted
        record["recalibration"] = table.meta["recalibration"]
    return record


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
