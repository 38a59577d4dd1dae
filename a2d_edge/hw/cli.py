"""`a2d-profile`: profile a search space on this device into a latency table."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from a2d_edge.errors import A2DError
from a2d_edge.utils.args import (
    OneLineParser,
    check_out_file,
    non_negative_float,
    non_negative_int,
    positive_int,
)


def _recalibrate(args: argparse.Namespace) -> int:
    from a2d_edge.hw.profile import recalibrate, settings_for
    from a2d_edge.hw.table import load_table

    table = load_table(args.recalibrate)  # an op table or a width table
    if table.host_match() != "same" and not args.force:
        from a2d_edge.hw.lut import host_mismatch

        raise A2DError(
            f"{host_mismatch(args.recalibrate, table)}: a recalibration rescales one machine's "
            "drift, not another machine's table; profile this host instead (--force to go on)"
        )
    out = Path(args.out or args.recalibrate)
    if out.exists() and out != Path(args.recalibrate) and not args.force:
        raise A2DError(f"{out} exists; pass --force to replace it")
    settings = settings_for(table, args.repeats, args.warmup)
    rec = recalibrate(table, args.archs, settings, seed=args.seed + 1)
    table.save(out)
    b, a = rec["before"], rec["after_in_sample"]
    fit = rec["drift_fit"]
    print(
        f"wrote {out}: drift {fit['scale']:.3f} x prediction {fit['offset_us']:+.1f} us (median "
        f"ratio {rec['drift_factor']:.3f}) from {rec['archs']} archs; "
        f"MAPE {b['mape_pct']:.2f}% before, {a['mape_pct']:.2f}% after (in sample)"
    )
    return 0


def _refit(args: argparse.Namespace) -> int:
    from a2d_edge.hw.lut import LatencyTable
    from a2d_edge.hw.profile import fit_samples

    table = LatencyTable.load(args.refit)
    samples = table.validation.get("samples")
    if not samples:
        raise A2DError(f"{args.refit} holds no timed archs to fit on: profile it with --validate N")
    out = Path(args.out or args.refit)
    if out.exists() and out != Path(args.refit) and not args.force:
        raise A2DError(f"{out} exists; pass --force to replace it")
    fit_samples(table, samples, int(table.validation.get("fit_on") or len(samples) // 2))
    table.save(out)
    v = table.validation
    print(f"wrote {out}: correction {v['correction_model']}, held-out MAPE "
          + ", ".join(f"{k} {e['mape_pct']:.2f}%" for k, e in v["candidates"].items()))  # fmt: skip
    return 0


def _profile_widths(args: argparse.Namespace, out: Path, settings: Any) -> int:
    """A width table: every arch of the width space timed whole (`hw.widthtable`)."""
    from a2d_edge.hw.profile import profile_widths, validate_widths
    from a2d_edge.nets.widths import get_width_space

    if args.resume:
        raise A2DError("--resume is for op tables: a width table is timed in one sitting")
    if out.exists() and not args.force:
        raise A2DError(f"{out} exists; pass --force to replace it")
    table = profile_widths(get_width_space(args.preset), settings, progress=not args.quiet)
    if args.validate:
        validate_widths(table, args.validate, settings, seed=args.seed)
    table.save(out)
    fastest, arch = table.fastest()
    print(
        f"wrote {out}: {len(table.entries)} archs timed whole, {fastest:.3f} ms (widths "
        f"{arch['channels']} fc {arch['hidden']}) to "
        f"{max(t.p50_us for t in table.entries.values()) / 1000:.3f} ms, mode "
        f"{table.describe_mode()}, {args.threads} thread(s)"
    )
    if table.validation:
        e = table.validation["retimed"]
        print(
            f"  re-timed {e['n']} archs in a second sitting: MAPE {e['mape_pct']:.2f}%, "
            f"within ±5% {100 * e['within_5pct']:.0f}%, ±10% {100 * e['within_10pct']:.0f}%"
        )
    return 0


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


def _run(args: argparse.Namespace, given: frozenset[str] = frozenset()) -> int:
    """`given`: the flags set on the command line (`applies.given_flags`)."""
    from a2d_edge.applies import MODES, check_applies

    check_applies(MODES["a2d-profile"], args, given)
    if args.validate == 1:
        raise A2DError(
            "--validate N fits on half of N archs and judges on the other half: 0 or >= 2"
        )
    if args.out:
        check_out_file(args.out, "--out")
    if args.refit:  # refits the timings a table holds: nothing is measured
        return _refit(args)
    refuse_emulation()  # a profile or a recalibration times this machine
    if args.recalibrate:
        return _recalibrate(args)
    from a2d_edge.hw.backends import get_backend
    from a2d_edge.hw.profile import ProfileSettings, device_slug
    from a2d_edge.nets.spaces import get_space
    from a2d_edge.runtime.pacing import Pacing

    backend = get_backend(args.backend, args.precision)
    space = get_space(args.preset)
    if args.int8_recipe and args.precision != "int8":
        raise A2DError("--int8-recipe is for --precision int8")
    settings = ProfileSettings(
        backend, args.precision, args.threads, args.mode, args.repeats, args.warmup,
        n_actions=args.actions, int8_recipe=args.int8_recipe or "",
        pacing=Pacing(args.hz, args.spin_ms, args.prewarm), burst=args.burst,
    )  # fmt: skip
    if args.out:
        out = Path(args.out)
    else:
        from a2d_edge.hw.profile import describe_device

        suffix = {"warm": "", "in-loop": "-inloop"}.get(args.mode, settings.pacing.suffix())
        slug = device_slug(describe_device(args.threads), args.backend)
        out = Path("latency_tables") / (
            f"{slug}-{args.backend}-{args.precision}-{args.preset}{suffix}.json"
        )
    return PROFILERS[space.kind](args, out, settings)


def _profile_ops(args: argparse.Namespace, out: Path, settings: Any) -> int:
    """An op table: every op of the op space timed at every block shape (`hw.lut`)."""
    from a2d_edge.hw.lut import LatencyTable, Timing
    from a2d_edge.hw.profile import profile_space, validate
    from a2d_edge.nets.space import get_space

    space = get_space(args.preset)
    partial_path = out.with_name(out.name + ".partial")
    partial: dict | None = None  # type: ignore[type-arg]
    if args.resume and partial_path.exists():
        partial = LatencyTable.load(partial_path).entries
    elif out.exists() and not args.force:
        raise A2DError(f"{out} exists; pass --force to replace it (or --resume to continue)")

    def save_partial(entries: dict, fixed: dict[str, Timing]) -> None:  # type: ignore[type-arg]
        LatencyTable(space, entries, fixed, meta=settings_meta()).save(partial_path)

    def settings_meta() -> dict:  # type: ignore[type-arg]
        from a2d_edge.hw.profile import table_meta

        return table_meta(settings)

    table = profile_space(space, settings, partial, save_partial, progress=not args.quiet)
    if args.validate:
        validate(table, args.validate, settings, seed=args.seed)
    table.save(out)
    partial_path.unlink(missing_ok=True)
    print(
        f"wrote {out}: {len(table.entries)} op entries, overhead "
        f"{table.fixed['overhead'].p50_us:.1f} us, mode {table.describe_mode()}, "
        f"{args.threads} thread(s)"
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
    return 0


# how each kind of space is profiled (`Space.kind`)
PROFILERS = {"ops": _profile_ops, "widths": _profile_widths}


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="a2d-profile", description=__doc__)
    p.add_argument("--backend", default="onnxruntime", choices=["torch", "onnxruntime", "tensorrt"])
    p.add_argument("--precision", default="fp32", choices=["fp32", "int8", "fp16"])
    p.add_argument(
        "--preset",
        default="edge",
        choices=["paper", "edge", "fast", "tiny", "nature-widths"],
        help="the space whose ops are timed (nature-widths: a width space, every arch of it "
        "timed whole into a width table)",
    )
    p.add_argument("--threads", type=positive_int, default=1, help="intra-op threads (recorded)")
    p.add_argument(
        "--actions",
        type=positive_int,
        default=6,
        help="actions of the head timed (Pong's 6; recorded)",
    )
    p.add_argument(
        "--mode",
        default="warm",
        choices=["warm", "in-loop", "controller"],
        help="warm: back-to-back calls; in-loop: an env step before each call; controller: an "
        "env step and a2d run's wait before each call, at --hz (what a fixed-rate loop sees: "
        "a core woken from sleep; each sample costs 1/hz of wall time)",
    )
    p.add_argument(
        "--hz", type=non_negative_float, default=0.0, help="controller mode: the control rate"
    )
    p.add_argument(
        "--spin-ms", type=non_negative_float, default=0.0, help="controller mode: a2d run --spin-ms"
    )
    p.add_argument("--prewarm", action="store_true", help="controller mode: a2d run --prewarm")
    p.add_argument(
        "--int8-recipe",
        default="",
        help="INT8 recipe to time (u8s8, u8s8-rr, u8u8; default: the export's for this host's ISA)",
    )
    p.add_argument("--repeats", type=positive_int, default=200, help="timed runs per part")
    p.add_argument("--warmup", type=non_negative_int, default=20)
    p.add_argument(
        "--burst",
        type=non_negative_int,
        default=0,
        help="warm mode: calls per turn of a part, the last one timed, so that it finds its own "
        "weights in the caches as a net called back to back does (0: 4 warm; 1: the turn's "
        "only call follows another part's, as tables made before bursts were timed)",
    )
    p.add_argument(
        "--validate",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="time N random whole archs; fit the correction on half, judge on half",
    )
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of the validation archs")
    p.add_argument(
        "--recalibrate",
        metavar="TABLE",
        help="re-time --archs whole archs with TABLE's own settings and rescale its "
        "prediction by the device's drift since it was profiled (seconds, not a re-profile); "
        "writes TABLE (or --out)",
    )
    p.add_argument("--archs", type=positive_int, default=12, help="archs timed by --recalibrate")
    p.add_argument(
        "--refit",
        metavar="TABLE",
        help="fit TABLE's correction again on the archs its validation timed (no measuring): "
        "the better on its held-out half of a global scale and one factor per op type",
    )
    p.add_argument("--out", help="table path (default latency_tables/<device>-<backend>-...)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted profile")
    p.add_argument("--force", action="store_true", help="replace an existing table")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from a2d_edge.applies import given_flags
    from a2d_edge.utils.cli import run_cli

    p = parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    p.set_defaults(handler=lambda args: _run(args, given_flags(p, argv)))
    return run_cli(p, argv)


if __name__ == "__main__":
    sys.exit(main())
