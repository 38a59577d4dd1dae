"""A latency table of this device written to a file, as `a2d-profile` and `make demo` make one:
every op of an op space at every block shape (`hw.lut`), or every arch of a width space timed
whole (`hw.widthtable`), each with its optional validation, and the lines that say what was
written."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from a2d_edge.errors import A2DError

if TYPE_CHECKING:
    from a2d_edge.hw.table import Table


def refuse_emulation() -> None:
    """Timings under an emulator are the emulator's: refuse them in one line."""
    import platform

    from a2d_edge.utils.emulation import emulated

    why = emulated()
    if why:
        raise A2DError(
            f"this {platform.machine()} is emulated ({why}): an emulator runs the instructions "
            "but not at the device's speed, so its timings would make a false latency table; "
            "run a2d-profile on the device itself"
        )


def profile_table(
    settings: Any,
    preset: str,
    out: str | Path,
    *,
    validate: int = 0,
    seed: int = 0,
    resume: bool = False,
    force: bool = False,
    progress: bool = True,
) -> Table:
    """Profile `preset`'s space on this device with `settings` (`hw.profile.ProfileSettings`)
    into the table `out` (refused under an emulator, or when `out` exists without `force`);
    `validate` N: time N random whole archs and judge the table's prediction on them (seed
    `seed`); `resume`: continue an op table's interrupted profile. Says what it wrote."""
    from a2d_edge.nets.spaces import get_space

    refuse_emulation()
    if validate == 1:
        raise A2DError(
            "--validate N fits on half of N archs and judges on the other half: 0 or >= 2"
        )
    kind = get_space(preset).kind
    run = _profile_ops if kind == "ops" else _profile_widths
    return run(settings, preset, Path(out), validate, seed, resume, force, progress)


def _profile_widths(  # type: ignore[no-untyped-def]
    settings, preset, out: Path, validate, seed, resume, force, progress
) -> Table:
    """A width table: every arch of the width space timed whole (`hw.widthtable`)."""
    from a2d_edge.hw.profile import profile_widths, validate_widths
    from a2d_edge.nets.widths import get_width_space

    if resume:
        raise A2DError("--resume is for op tables: a width table is timed in one sitting")
    if out.exists() and not force:
        raise A2DError(f"{out} exists; pass --force to replace it")
    table = profile_widths(get_width_space(preset), settings, progress=progress)
    if validate:
        validate_widths(table, validate, settings, seed=seed)
    table.save(out)
    fastest, arch = table.fastest()
    print(
        f"wrote {out}: {len(table.entries)} archs timed whole, {fastest:.3f} ms (widths "
        f"{arch['channels']} fc {arch['hidden']}) to "
        f"{max(t.p50_us for t in table.entries.values()) / 1000:.3f} ms, mode "
        f"{table.describe_mode()}, {settings.threads} thread(s)"
    )
    if table.validation:
        e = table.validation["retimed"]
        print(
            f"  re-timed {e['n']} archs in a second sitting: MAPE {e['mape_pct']:.2f}%, "
            f"within ±5% {100 * e['within_5pct']:.0f}%, ±10% {100 * e['within_10pct']:.0f}%"
        )
    return table


def _profile_ops(  # type: ignore[no-untyped-def]
    settings, preset, out: Path, validate, seed, resume, force, progress
) -> Table:
    """An op table: every op of the op space timed at every block shape (`hw.lut`)."""
    from a2d_edge.hw.lut import LatencyTable, Timing
    from a2d_edge.hw.profile import profile_space, table_meta
    from a2d_edge.hw.profile import validate as validate_table
    from a2d_edge.nets.space import get_space

    space = get_space(preset)
    partial_path = out.with_name(out.name + ".partial")
    partial: dict | None = None  # type: ignore[type-arg]
    if resume and partial_path.exists():
        partial = LatencyTable.load(partial_path).entries
    elif out.exists() and not force:
        raise A2DError(f"{out} exists; pass --force to replace it (or --resume to continue)")

    def save_partial(entries: dict, fixed: dict[str, Timing]) -> None:  # type: ignore[type-arg]
        LatencyTable(space, entries, fixed, meta=table_meta(settings)).save(partial_path)

    table = profile_space(space, settings, partial, save_partial, progress=progress)
    if validate:
        validate_table(table, validate, settings, seed=seed)
    table.save(out)
    partial_path.unlink(missing_ok=True)
    print(
        f"wrote {out}: {len(table.entries)} op entries, overhead "
        f"{table.fixed['overhead'].p50_us:.1f} us, mode {table.describe_mode()}, "
        f"{settings.threads} thread(s)"
        + (f", INT8 recipe {settings.int8_recipe}" if settings.int8_recipe else "")
    )
    if table.validation:
        v = table.validation
        for name in ("plain_sum", "corrected"):
            e = v[name]
            print(
                f"  {name:>9} on {e['n']} held-out archs: MAPE {e['mape_pct']:.2f}%, "
                f"within ±5% {100 * e['within_5pct']:.0f}%, ±10% {100 * e['within_10pct']:.0f}%"
            )
    return table
