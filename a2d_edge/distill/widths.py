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
from a2d_edge.hw.lut import host_mismatch
from a2d_edge.hw.widthtable import WidthTable
from a2d_edge.nets.arch import Arch
from a2d_edge.nets.widths import WIDTH_SPACES, ElasticNature, WidthSpace, get_width_space
from a2d_edge.search.config import SearchConfig
from a2d_edge.search.prepare import resolve_lut
from a2d_edge.utils.threads import learner_threads


def wants_widths(cfg: SearchConfig) -> bool:
    """Whether the search is over a width space: by --preset, or by an --lut width table
    under --preset auto."""
    if cfg.preset in WIDTH_SPACES:
        return True
    if cfg.preset != "auto" or not cfg.lut:
        return False
    return isinstance(resolve_lut(cfg, say=False), WidthTable)


def prepare_widths(cfg: SearchConfig, say: bool = True) -> tuple[WidthSpace, WidthTable | None]:
    """The width space, its table and the budget, checked before anything is written."""
    if cfg.update != "batched":
        raise A2DError(f"--update {cfg.update} is for a2d train; a search always updates batched")
    if cfg.latency_budget_ms > 0 and not cfg.lut:
        raise A2DError("--latency-budget-ms needs --lut TABLE (a2d-profile makes one)")
    if cfg.select == "gradient":
        raise A2DError(
            "a width space is searched exhaustively (--select evolution): it has no alpha"
        )
    table = resolve_lut(cfg, say) if cfg.lut else None
    if table is not None and not isinstance(table, WidthTable):
        raise A2DError(
            f"latency table {cfg.lut} times the ops of space {table.space.name!r}; a width "
            f"search needs a width table: a2d-profile --preset {cfg.preset}"
        )
    auto = table is not None and cfg.preset == "auto"
    space = table.space if auto and table is not None else get_width_space(cfg.preset)
    if table is None:
        return space, None
    if table.space != space:
        raise A2DError(
            f"width table {cfg.lut} was profiled for {table.space.name!r}, not {space.name!r}: "
            f"profile it with a2d-profile --preset {space.name}"
        )
    if say and table.host_match() == "lookalike":
        print(f"warning: {host_mismatch(cfg.lut, table)}; its latencies are not this host's, so "
              "the derived arch is not timed here (a2d-profile makes this host's)")  # fmt: skip
    fastest, _ = table.fastest()
    if cfg.latency_budget_ms > 0 and cfg.latency_budget_ms * (1 - cfg.budget_margin) < fastest:
        raise A2DError(
            f"latency budget {cfg.latency_budget_ms:g} ms (x 1 - margin {cfg.budget_margin:g}) "
            f"is below the fastest arch of {space.name!r} on this table: {fastest:.3f} ms"
        )
    return space, table


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
