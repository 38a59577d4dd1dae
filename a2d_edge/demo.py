"""`make demo`: the whole pipeline on the embedded default (ALE/Pong-v5, this CPU).

1. a latency table of this machine, timed as the final run waits (controller mode at --hz): a
   shipped one when its device fingerprint is this host's, else a short a2d-profile,
2. a short latency-budgeted A2D search distilled from the shipped Pong teacher (zoo:pong),
3. a short distilled retrain of the derived agent,
4. export to a verified INT8 bundle,
5. `a2d run` of the bundle for a couple of episodes, recorded,
then one summary table. Every step is a flag away from a real run:

    python -m a2d_edge.demo --search-steps 2000000 --train-steps 10000000 --episodes 30
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from a2d_edge.cli import main as a2d
from a2d_edge.errors import A2DError

MARK = ".a2d-demo"  # written into the demo's folder: only such a folder is ever replaced


def shipped_tables() -> Path:
    """Where the shipped latency tables are: $A2D_LATENCY_TABLES, else `latency_tables/` of
    the checkout the package runs from (an editable install, as `make` makes), else
    `./latency_tables`."""
    env = os.environ.get("A2D_LATENCY_TABLES")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[1] / "latency_tables"
    return checkout if checkout.is_dir() else Path("latency_tables")


TABLES = shipped_tables()


def fresh_folder(out: Path) -> None:
    """Empty `out` for a new demo run; refuse a folder that holds anything but a past demo."""
    legacy = (out / "search" / "search.json").is_file() and (out / "agent").is_dir()  # before MARK
    if out.exists() and any(out.iterdir()) and not ((out / MARK).is_file() or legacy):
        raise A2DError(
            f"{out} exists and is not a folder a2d-demo made (no {MARK} in it): choose another "
            "--out, or empty it yourself"
        )
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARK).write_text("made by python -m a2d_edge.demo; replaced by the next run\n")


def _step(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def _call(argv: list[str]) -> None:
    print("$ a2d " + " ".join(argv), flush=True)
    if a2d(argv) != 0:
        raise SystemExit(f"a2d-demo: step failed: a2d {' '.join(argv)}")


def teacher(out: Path, steps: int) -> str:
    from a2d_edge.zoo import available

    if "pong" in available():
        return "zoo:pong"
    print("no shipped teacher (zoo:pong) in this checkout yet: training a brief stand-in")
    _call(["train", "--env", "ALE/Pong-v5", "--steps", str(steps), "--out", str(out / "teacher"),
           "--eval-every", "0"])  # fmt: skip
    return str(out / "teacher" / "agent.pt")


def latency_table(out: Path, hz: float) -> Path:
    """A shipped INT8 edge table of this host (by its fingerprint) timed as the demo's run
    waits (controller mode at `hz`); else a brief profile of this host in that mode."""
    from a2d_edge.hw.lut import LatencyTable, host_mismatch
    from a2d_edge.runtime.pacing import Pacing
    from a2d_edge.utils.fingerprint import this_host

    pacing = Pacing(hz)
    elsewhere = []
    for path in sorted(TABLES.glob("*-onnxruntime-int8-edge*.json")):
        try:
            table = LatencyTable.load(path)
        except A2DError:
            continue
        if table.host_match() != "same":
            elsewhere.append((path, table))
        elif table.mode == "controller" and table.pacing == pacing:
            print(f"using the shipped table latency_tables/{path.name} ({table.describe_mode()})")
            return recalibrated(path, out)
    here = this_host().slug
    if elsewhere:
        path, table = elsewhere[0]
        print(
            f"no shipped table for this host: {host_mismatch('latency_tables/' + path.name, table)}"
        )
    path = out / f"{here}-onnxruntime-int8-edge{pacing.suffix()}.json"
    print(f"profiling this host ({here}) briefly: INT8, controller at {hz:g} Hz")
    from a2d_edge.hw.cli import main as profile

    argv = ["--backend", "onnxruntime", "--precision", "int8", "--preset", "edge", "--mode",
            "controller", "--hz", f"{hz:g}", "--repeats", "30", "--warmup", "5", "--validate",
            "16", "--out", str(path)]  # fmt: skip
    print("$ a2d-profile " + " ".join(argv), flush=True)
    if profile(argv) != 0:
        raise SystemExit("a2d-demo: profiling failed")
    return path


def recalibrated(path: Path, out: Path) -> Path:
    """A copy of the table rescaled by this machine's drift since it was profiled (a dozen
    whole archs timed its way, seconds): the controller-mode latency of a shared VM moves by
    tens of percent from one sitting to the next."""
    from a2d_edge.hw.cli import main as profile

    copy = out / path.name
    argv = ["--recalibrate", str(path), "--out", str(copy), "--archs", "12", "--repeats", "60"]
    print("$ a2d-profile " + " ".join(argv), flush=True)
    if profile(argv) != 0:
        raise SystemExit("a2d-demo: recalibration failed")
    return copy


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="a2d-demo", description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    p.add_argument("--out", default="runs/demo")
    p.add_argument(
        "--budget-factor",
        type=float,
        default=2.0,
        help="latency budget = this x the fastest arch of the space (by the table)",
    )
    p.add_argument("--search-steps", type=int, default=20_000)
    p.add_argument("--train-steps", type=int, default=40_000)
    p.add_argument(
        "--teacher-steps", type=int, default=40_000, help="only when no teacher is shipped"
    )
    p.add_argument("--episodes", type=int, default=2)
    p.add_argument("--hz", type=float, default=60.0, help="control rate of the final run")
    args = p.parse_args(argv)
    out = Path(args.out)
    t0 = time.perf_counter()
    try:
        fresh_folder(out)
        _step("1/5 teacher and latency table")
        tch = teacher(out, args.teacher_steps)
        lut = latency_table(out, args.hz)
        from a2d_edge.hw.lut import LatencyTable

        table = LatencyTable.load(lut)
        fastest, _ = table.minimum_ms()
        budget = round(fastest * args.budget_factor, 4)
        _step(f"2/5 A2D search, budget {budget} ms (fastest arch {fastest:.3f} ms)")
        _call(["search", "--env", "ALE/Pong-v5", "--teacher", tch, "--preset", "edge", "--mode",
               "hard", "--steps", str(args.search_steps), "--lut", str(lut),
               "--latency-budget-ms", str(budget), "--run-hz", f"{args.hz:g}", "--eval-every",
               "0", "--out", str(out / "search")])  # fmt: skip
        _step("3/5 retrain the derived agent, distilled")
        _call(["train", "--env", "ALE/Pong-v5", "--arch", str(out / "search" / "arch.json"),
               "--teacher", tch, "--steps", str(args.train_steps), "--eval-every", "0",
               "--out", str(out / "agent")])  # fmt: skip
        _step("4/5 export a verified INT8 bundle")
        export = ["export", str(out / "agent" / "agent.pt"), "--out", str(out / "bundle"),
                  "--frames", "256"]  # fmt: skip
        print("$ a2d " + " ".join([*export, "--int8"]), flush=True)
        if a2d([*export, "--int8"]) != 0:
            print("INT8 missed the agreement bar for this briefly trained agent: exporting fp32")
            _call(export)
        _step(f"5/5 run it at {args.hz:g} Hz")
        if lut.parent == out:  # the table of the run: this minute's drift, not the search's
            recalibrated(lut, out)
        _call(["run", str(out / "bundle"), "--episodes", str(args.episodes), "--hz",
               str(args.hz), "--lut", str(lut), "--report", str(out / "run.json"), "--record",
               str(out / "run.gif")])  # fmt: skip
    except A2DError as e:
        print(f"a2d-demo: error: {e}", file=sys.stderr)
        return 2
    summary(out, budget, time.perf_counter() - t0)
    return 0


def summary(out: Path, budget: float, seconds: float) -> None:
    search = json.loads((out / "search" / "search.json").read_text())
    run = json.loads((out / "run.json").read_text())
    manifest = json.loads((out / "bundle" / "manifest.json").read_text())
    lat = search["latency"]
    inf = run["latency_us"]["inference"]
    int8 = manifest["verification"].get("int8_vs_fp32", {}).get("action_agreement")
    rows = [
        ("latency table", f"{Path(lat['table']).name} ({lat['table_mode']})"),
        ("latency budget (table)", f"{budget:.3f} ms"),
        ("predicted latency (table)", f"{lat['predicted_ms']:.3f} ms"
         + (" (repaired)" if lat["repaired"] else "")),
        ("measured at search end", f"{lat['measured_ms']:.3f} ms" if lat.get("measured_ms")
         else "n/a"),
        (f"measured in the run ({run['policy']})", f"p50 {inf['p50'] / 1000:.3f} / p99 "
         f"{inf['p99'] / 1000:.3f} ms"),
        ("in-run p50 / table prediction", _judged(run.get("lut"))),
        ("deadline misses", f"{run['misses']} of {run['steps']}"),
        ("FLOPs of the derived agent", f"{search['derived_flops'] / 1e6:.2f} M"),
        ("INT8 action agreement with fp32", f"{100 * int8:.1f}%" if int8 else "no INT8 model"),
        ("score (episodes)", f"{run['score_mean']} {run['scores']}"),
    ]  # fmt: skip
    print(f"\n{'=' * 64}\n a2d demo summary ({seconds / 60:.1f} min)\n{'=' * 64}")
    width = max(len(k) for k, _ in rows) + 2
    for k, v in rows:
        print(f" {k:<{width}}{v}")
    print(
        f"\n derived arch: {out / 'search' / 'arch.json'}\n bundle: {out / 'bundle'}\n"
        f" run report: {out / 'run.json'}\n video: {out / 'run.gif'}"
    )
    print(" (short demo budgets: the score is not the point; see README for real runs)")


def _judged(lut: dict | None) -> str:  # type: ignore[type-arg]
    if not lut or lut.get("p50_over_predicted") is None:
        return "n/a"
    ratio = float(lut["p50_over_predicted"])
    verdict = "within" if abs(ratio - 1) <= 0.15 else "outside"
    return f"{ratio:.2f}x of {lut['predicted_ms']:.3f} ms ({verdict} ±15%)"


if __name__ == "__main__":
    sys.exit(main())
