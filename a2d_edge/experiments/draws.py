"""Random baselines of a sweep: archs of the table's space drawn until they fit a budget.

A group of `runs:` with `random_archs: N` (command distill) trains N such archs by the recipe of
its other settings. Draw I of a run is the I-th distinct arch that fits, in the order a seeded
RNG draws them, so a resumed or repeated sweep draws the same archs. The budget is the run's
`latency_budget_ms`, or its `budget_of_teacher` share of the sweep's pinned teacher timing.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Protocol

from a2d_edge.errors import A2DError
from a2d_edge.utils.io import write_json

DRAWS = 100_000
"""Draws tried before a budget is declared to admit fewer distinct archs."""


class _Space(Protocol):
    def sample(self, rng: random.Random) -> Any: ...


class _Table(Protocol):
    def predict(self, arch: Any) -> float: ...


def fitting_randoms(
    space: _Space, table: _Table, budget_ms: float, n: int, seed: int, draws: int | None = None
) -> list[dict[str, Any]]:
    """Up to `n` distinct archs of `space` that fit the budget by `table`, in the order drawn
    (the same on a rerun; the first `k` of `n` are those of `k`); fewer where `draws` draws
    (default `DRAWS`) find fewer (a budget at the space's floor admits a handful of archs)."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(DRAWS if draws is None else draws):
        if len(out) == n:
            break
        arch = space.sample(rng)  # an op space's or a width space's
        key = json.dumps(arch, sort_keys=True)
        if key not in seen and table.predict(arch) <= budget_ms:
            seen.add(key)
            out.append(arch)
    return out


def check_draws(where: str, cfg: Any) -> None:
    """A run of random archs needs a table and a budget to draw by (one line each)."""
    if not cfg.lut:
        raise A2DError(f"{where} needs lut: the table whose space and latencies draw the archs")
    if cfg.budget_of_teacher <= 0 and cfg.latency_budget_ms <= 0:
        raise A2DError(f"{where} needs a budget: budget_of_teacher or latency_budget_ms")


def draw_arch(cfg: Any, index: int, seed: int, path: Path) -> Path:
    """Draw `index` for a run of settings `cfg` (its `lut`, and a resolved
    `latency_budget_ms`), written to `path` as an arch.json; refused in one line where the
    budget admits fewer archs."""
    from a2d_edge.search.prepare import resolve_lut

    check_draws("random_archs", cfg)
    if cfg.latency_budget_ms <= 0:  # budget_of_teacher is resolved by the sweep's teacher timing
        raise A2DError("random_archs: the budget was not resolved before the draw")
    table = resolve_lut(cfg, say=False, recalibrate=False)
    drawn = fitting_randoms(table.space, table, cfg.latency_budget_ms, index + 1, seed)
    if len(drawn) <= index:
        raise A2DError(
            f"only {len(drawn)} distinct arch(s) of {table.space.name} fit "
            f"{cfg.latency_budget_ms:g} ms by {cfg.lut}: there is no random arch #{index}"
        )
    write_json(path, drawn[index])
    return path
