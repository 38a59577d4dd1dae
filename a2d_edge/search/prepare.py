"""What every search prepares the same way: the latency table that predicts how the agent will
run (rescaled to this sitting), whether it is this host's, and an arch timed here with its
settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from a2d_edge.errors import A2DError
from a2d_edge.hw.lut import resolve_for_run
from a2d_edge.hw.table import Table, load_table
from a2d_edge.runtime.pacing import Pacing
from a2d_edge.search.config import SearchConfig


def run_pacing(cfg: SearchConfig) -> Pacing:
    return Pacing(cfg.run_hz, cfg.run_spin_ms, cfg.run_prewarm).check()


def resolve_lut(cfg: SearchConfig, say: bool = True, recalibrate: bool = True) -> Table:
    """Load the table (op or width table) that predicts how the agent will run
    (`hw.lut.resolve_for_run`), rescaled to this sitting when it is this host's and
    `cfg.recalibrate` (`hw.drift`; `recalibrate=False`: only its settings are wanted)."""
    from a2d_edge.hw.drift import to_this_sitting

    path = resolve_for_run(cfg.lut, run_pacing(cfg))
    table = load_table(path)
    if say and path != Path(cfg.lut):
        print(f"latency table: {path} ({table.describe_mode()}, the mode the agent will run in)")
    if recalibrate and cfg.recalibrate:
        to_this_sitting(table)
    return table


def latency_is_local(table: Table | None) -> bool:
    """Whether the table was measured on this machine (its fingerprint: CPU, ISA, caches,
    GPU), so that the derived arch can be timed here against it."""
    return table is not None and table.host_match() == "same"


def measure_here(table: Table, arch: dict[str, Any], n_actions: int | None = None) -> float | None:
    """Measured latency (ms) of `arch` with the table's own backend and settings (its policy
    head with `n_actions`, else the table's action count); None where the backend cannot run."""
    from dataclasses import replace

    from a2d_edge.hw.profile import measure_archs, settings_for

    try:
        settings = settings_for(table, repeats=100, warmup=10)
        if n_actions is not None:
            settings = replace(settings, n_actions=n_actions)
        return float(measure_archs(table.space, [arch], settings)[0]) / 1000.0
    except A2DError:
        return None
