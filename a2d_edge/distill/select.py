"""Selecting an arch of a trained supernet under a latency budget.

`judge_path` scores one arch: the supernet's weights for it (ops or widths), BatchNorm statistics
recomputed on its own activations, then the distillation loss, KL and greedy agreement with the
teacher on held-out frames. `evolve` is SPOS / OFA's evolutionary search over archs whose
predicted latency meets the budget: every arch it makes is repaired into the budget before it is
judged (so none over it is ever returned), fitness = the held-out loss (lower is better).
`rerank` judges the evolution's best few again with a longer adaptation and keeps the best.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from a2d_edge.distill.bn import recalibrate_bn
from a2d_edge.distill.losses import agreement, distill_loss
from a2d_edge.hw.table import Table
from a2d_edge.nets.agent import ActorCritic
from a2d_edge.nets.arch import Arch
from a2d_edge.nets.spaces import SupernetNet

Ops = tuple[str, ...]


@dataclass(frozen=True)
class Frames:
    """Teacher-labelled frames: uint8 obs, teacher logits and values."""

    obs: torch.Tensor
    logits: torch.Tensor
    values: torch.Tensor

    def __len__(self) -> int:
        return len(self.obs)

    def split(self, n: int) -> tuple[Frames, Frames]:
        first = Frames(self.obs[:n], self.logits[:n], self.values[:n])
        return first, Frames(self.obs[n:], self.logits[n:], self.values[n:])

    def batches(self, size: int) -> list[torch.Tensor]:
        return [self.obs[i : i + size] for i in range(0, len(self.obs), size)]


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
    adaptation, which ranks trained archs better: benchmarks/proxy_rank.py), and each one's
    judgement, in `ranked`'s order."""
    if top < 1 or not ranked:
        raise ValueError("rerank needs at least one arch")
    judged = [(ops, judge(ops)) for ops in ranked[:top]]
    best = min(judged, key=lambda oj: oj[1].loss)[0]
    return best, [{"ops": list(o), **j.to_dict()} for o, j in judged]


def judging_frames(frames: Frames, bn_frames: int, judge_frames: int) -> tuple[Frames, Frames]:
    """The held-out frames a path's BatchNorm statistics are recomputed (and adapted) on, and
    those it is judged on."""
    bn, judge = frames.split(min(bn_frames, len(frames) // 2))
    return bn, judge.split(min(judge_frames, len(judge)))[0]


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
