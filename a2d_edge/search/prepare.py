"""What every search prepares the same way: the latency table that predicts how the agent will
run (rescaled to this sitting), whether it is this host's, and an arch timed here with its
settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from a2d_edge.errors import A2DError
from a2d_edge.hw.lut import host_mismatch, resolve_for_run
from a2d_edge.hw.table import Table, load_table
from a2d_edge.nets.spaces import SPACES, Space, get_space
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


def check_flags(cfg: SearchConfig) -> None:
    """What every search refuses before it reads a table, in one line each."""
    if cfg.update != "batched":
        raise A2DError(f"--update {cfg.update} is for a2d train; a search always updates batched")
    if cfg.latency_budget_ms > 0 and not cfg.lut:
        raise A2DError("--latency-budget-ms needs --lut TABLE (a2d-profile makes one)")


def warn_lookalike(cfg: SearchConfig, table: Table) -> None:
    """One warning line for a table of a lookalike host (same CPU name, other machine)."""
    if table.host_match() == "lookalike":
        print(f"warning: {host_mismatch(cfg.lut, table)}; its latencies are not this host's, so "
              "the derived arch is not timed here (a2d-profile makes this host's)")  # fmt: skip


def prepare(cfg: SearchConfig, say: bool = True) -> tuple[Space, Table | None]:
    """The space (`--preset`, or under `auto` the preset the table was profiled for), its
    table and the budget, checked before anything is written, whichever the space's kind;
    `say`: print which table is used and whether it is another host's."""
    check_flags(cfg)
    table = resolve_lut(cfg, say) if cfg.lut else None
    space = get_space(cfg.space_preset())
    if table is not None and cfg.preset == "auto" and SPACES.get(table.space.name) == table.space:
        space = table.space  # the table says which preset it was profiled for
    if cfg.select == "gradient" and not space.has_alpha:
        raise A2DError(
            f"space {space.name!r} has no architecture logits: it is searched exhaustively "
            "(--select evolution), not by --select gradient"
        )
    if table is None:
        return space, None
    if say:
        warn_lookalike(cfg, table)
    if table.space != space:
        raise A2DError(
            f"latency table {cfg.lut} is a {table.KIND} of space {table.space.name!r}, not of "
            f"space {space.name!r}: search it with --preset {table.space.name}, or profile "
            f"{space.name!r} with a2d-profile --preset {space.name}"
        )
    table.check()  # every arch of the space can be predicted
    if cfg.latency_budget_ms > 0:
        fastest, _ = table.fastest()
        if cfg.latency_budget_ms * (1 - cfg.budget_margin) < fastest:
            margin = f" (x 1 - margin {cfg.budget_margin:g})" if cfg.budget_margin else ""
            raise A2DError(
                f"latency budget {cfg.latency_budget_ms:g} ms{margin} is below the fastest "
                f"architecture of the {space.name!r} space on this table: {fastest:.3f} ms"
            )
    return space, table
