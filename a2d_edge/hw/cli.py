"""`a2d-profile`: profile a search space on this device into a latency table."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from a2d_edge.errors import A2DError
from a2d_edge.utils.args import (
    OneLineParser,
    check_out_file,
    non_negative_float,
    non_negative_int,
    positive_int,
)


def _recalibrate(args: argparse.Namespace) -> int:
    from a2d_edge.hw.drift import recalibrate_file

    recalibrate_file(args.recalibrate, args.out, args.archs, args.repeats, args.warmup,
                     seed=args.seed + 1, force=args.force)  # fmt: skip
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


def _run(args: argparse.Namespace, given: frozenset[str] = frozenset()) -> int:
    """`given`: the flags set on the command line (`applies.given_flags`)."""
    from a2d_edge.applies import MODES, check_applies
    from a2d_edge.hw.profiling import profile_table, refuse_emulation

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
    get_space(args.preset)  # an unknown preset: refused before the backend's settings
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
    profile_table(settings, args.preset, out, validate=args.validate, seed=args.seed,
                  resume=args.resume, force=args.force, progress=not args.quiet)  # fmt: skip
    return 0


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
