"""`a2d search --method distill --preset nature-widths`: the width search's own parts (its phases
run by `distill.pipeline.width_search`).

The same run folder, phases and files as the op search (`distill.pipeline`):

    supernet  an `ElasticNature` distilled from the teacher on the sandwich rule (the widest,
              the narrowest and random archs per batch), RUN/supernet.pt, resumable
    select    every arch of the space that the width table says fits the budget (x 1 -
              --budget-margin) is judged with the supernet's weights for its widths, after
              --judge-adapt-steps of adaptation, on the held-out frames; the lowest held-out
              loss wins (exhaustive: a few hundred archs need no evolution), so no arch over
              the budget is ever returned. `--rerank-top N` judges the best N again with
              --rerank-adapt-steps.
    finish    the selected plain `nature` net distilled from scratch or from the inherited
              weights, then the 30-episode evaluation and agent.pt, as the op search does.
"""

from __future__ import annotations

import time
from typing import Any

from a2d_edge.distill.select import (
    Frames,
    Judgement,
    judge_path,
    judging_frames,
    latency_record,
)
from a2d_edge.errors import A2DError
from a2d_edge.hw.widthtable import WidthTable
from a2d_edge.nets.arch import Arch
from a2d_edge.nets.widths import ElasticNature, WidthSpace
from a2d_edge.search.config import SearchConfig
from a2d_edge.utils.threads import learner_threads


def candidates(space: WidthSpace, table: WidthTable | None, cfg: SearchConfig) -> list[Arch]:
    """The archs the selection judges: every one the table fits under the budget."""
    if table is None or cfg.latency_budget_ms <= 0:
        return space.archs()
    return table.within(cfg.latency_budget_ms * (1.0 - cfg.budget_margin))


def select_widths(
    cfg: SearchConfig,
    net: ElasticNature,
    frames: Frames,
    table: WidthTable | None,
    n_actions: int,
) -> tuple[Arch, dict[str, Any]]:
    """The arch to finish and what search.json says of it (every candidate's judgement)."""

    space = net.space
    split = judging_frames(frames, cfg.bn_frames, cfg.judge_frames)
    pool = candidates(space, table, cfg)
    if not pool:
        raise A2DError(f"no arch of {space.name!r} fits the budget on this table")
    t = time.perf_counter()

    def judge(arch: Arch, steps: int) -> Judgement:
        return judge_path(net, arch, *split, cfg.temperature, cfg.value_weight, steps,
                          cfg.distill_lr)  # fmt: skip

    def describe(arch: Arch) -> dict[str, Any]:
        widths = space.widths_of(arch)
        return {
            "widths": list(widths),
            "predicted_ms": table.predict(arch) if table is not None else None,
            "mflops": space.widths_flops(widths, n_actions) / 1e6,
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
            again = [(a, judge(a, cfg.rerank_adapt_steps))
                     for a, _ in judged[: cfg.rerank_top]]  # fmt: skip
            best = min(again, key=lambda aj: aj[1].loss)[0]
            info["rerank"] = {
                "top": cfg.rerank_top,
                "adapt_steps": cfg.rerank_adapt_steps,
                "exhaustive_best": describe(judged[0][0])["widths"],
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
