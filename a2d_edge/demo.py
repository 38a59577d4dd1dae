"""`make demo`: the whole pipeline on the embedded default (ALE/Pong-v5, this CPU).

1. this machine's fp32 latency table of the `fast` space, timed warm (back to back: each
   entry is the model's own cost): a shipped one when its device fingerprint is this host's
   (then recalibrated to this minute's drift), else a short a2d-profile,
2. the distillation-driven search at --budget-of-teacher x the teacher's own latency measured
   the same way (the same backend, precision and timing mode), or 1.15 x the space's fastest
   arch where that is more: the shipped Pong supernet (zoo:pong-fast, trained once by
   `a2d search`; --supernet-steps N trains a new one instead) selected for this table and
   budget, the selected agent finished by distillation from zoo:pong and evaluated,
3. export to a verified fp32 bundle (--precision int8: INT8 when it passes its check; on an
   AVX2 CPU the fast space's depthwise convs gain nothing from INT8 while the teacher's dense
   convs do, so fp32 is this space's deployment here),
4. `a2d run` of the bundle at --hz for an episode, recorded, judged against this host's table
   timed as that run waits (controller mode at --hz: the loop's wake-up adds a cost the same
   for every arch, which no budget on the model can remove),
5. the loop comparison: the teacher exported the same way, then `a2d run AGENT --compare
   TEACHER` at --hz, once as the run waits by default and once with --spin-ms + --prewarm
   (each sitting alternates the two in blocks of steps, so the drift falls on both),
then one summary table with the teacher's score and latency beside the agent's, ending with the
loop comparison (inference p50 / p99, whole loop step, teacher / agent), also in summary.json.
Every step is a flag away from a real run:

    python -m a2d_edge.demo --supernet-steps 300000 --finish-steps 300000 --final-episodes 30
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
from typing import Any

from a2d_edge.errors import A2DError
from a2d_edge.sources.names import zoo_card

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


def _echo(prog: str, *words: str, **settings: Any) -> None:
    """The step as its command line (`prog` and its flags), to run it again by hand."""
    flags = []
    for key, value in settings.items():
        flag = key.replace("_", "-")
        if isinstance(value, bool):
            flags.append(f"--{flag}" if value else f"--no-{flag}")
        else:
            flags += [f"--{flag}", f"{value:g}" if isinstance(value, float) else str(value)]
    print(f"$ {prog} " + " ".join([*words, *flags]), flush=True)


def _run_command(command: str, settings: dict[str, Any], run_dir: Path) -> None:
    """`a2d COMMAND` through the library, as `a2d sweep` runs it (`experiments.commands`)."""
    from a2d_edge.experiments.commands import start_command

    _echo(f"a2d {command}", **settings, out=str(run_dir))
    print(f"done: {start_command(command, settings, run_dir).said}", flush=True)


def teacher(out: Path, steps: int) -> str:
    from a2d_edge.zoo import available

    if "pong" in available():
        return "zoo:pong"
    print("no shipped teacher (zoo:pong) in this checkout yet: training a brief stand-in")
    settings = {"env": "ALE/Pong-v5", "steps": steps, "eval_every": 0}
    _run_command("train", settings, out / "teacher")
    return str(out / "teacher" / "agent.pt")


def latency_table(out: Path, hz: float, preset: str = "fast", precision: str = "fp32") -> Path:
    """A shipped `precision` table of `preset` for this host (by its fingerprint) timed at `hz`
    (controller mode; 0: warm, back to back), recalibrated to this minute's drift into `out`;
    else a brief profile of this host in that mode."""
    from a2d_edge.hw.lut import LatencyTable, host_mismatch
    from a2d_edge.runtime.pacing import Pacing
    from a2d_edge.utils.fingerprint import this_host

    pacing = Pacing(hz)
    mode = "controller" if hz > 0 else "warm"
    suffix = pacing.suffix() if hz > 0 else ""
    elsewhere = []
    for path in sorted(TABLES.glob(f"*-onnxruntime-{precision}-{preset}*.json")):
        try:
            table = LatencyTable.load(path)
        except A2DError:
            continue
        if table.host_match() != "same":
            elsewhere.append((path, table))
        elif table.mode == mode and (mode == "warm" or table.pacing == pacing):
            print(f"using the shipped table latency_tables/{path.name} ({table.describe_mode()})")
            return recalibrated(path, out)
    here = this_host().slug
    if elsewhere:
        path, table = elsewhere[0]
        print(
            f"no shipped table for this host: {host_mismatch('latency_tables/' + path.name, table)}"
        )
    path = out / f"{here}-onnxruntime-{precision}-{preset}{suffix}.json"
    how = f"controller at {hz:g} Hz" if hz > 0 else "warm"
    print(f"profiling this host ({here}) briefly: {precision}, {how}")
    from a2d_edge.hw.backends import get_backend
    from a2d_edge.hw.profile import ProfileSettings
    from a2d_edge.hw.profiling import profile_table

    timing: dict[str, Any] = {"mode": mode, "hz": hz} if hz > 0 else {"mode": mode}
    _echo("a2d-profile", backend="onnxruntime", precision=precision, preset=preset, **timing,
          repeats=30, warmup=5, validate=16, out=str(path))  # fmt: skip
    settings = ProfileSettings(get_backend("onnxruntime", precision), precision, mode=mode,
                               repeats=30, warmup=5, pacing=pacing)  # fmt: skip
    profile_table(settings, preset, path, validate=16)
    return path


def recalibrated(path: Path, out: Path) -> Path:
    """A copy of the table rescaled by this machine's drift since it was profiled (a dozen
    whole archs timed its way, seconds): the controller-mode latency of a shared VM moves by
    tens of percent from one sitting to the next."""
    from a2d_edge.hw.drift import recalibrate_file

    copy = out / path.name
    _echo("a2d-profile", recalibrate=str(path), out=str(copy), archs=12, repeats=60)
    recalibrate_file(path, copy, archs=12, repeats=60)
    return copy


def shipped_supernet(spec: str) -> str | None:
    """zoo:NAME when that supernet ships with the package, else None (one is trained)."""
    from a2d_edge.search.checkpoint import supernet_path

    return spec if spec and supernet_path(spec).is_file() else None


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="a2d-demo", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--out", default="runs/demo")
    p.add_argument(
        "--budget-of-teacher",
        type=float,
        default=0.33,
        help="latency budget: this share of the teacher's latency, measured here",
    )
    p.add_argument(
        "--supernet",
        default="zoo:pong-fast",
        help="trained supernet to select from ('' or --supernet-steps: train one)",
    )
    p.add_argument(
        "--supernet-steps",
        type=int,
        default=0,
        help="train a supernet for this many steps instead of the shipped one",
    )
    p.add_argument("--finish-steps", type=int, default=90_000)
    p.add_argument("--final-episodes", type=int, default=4, help="the search's own evaluation")
    p.add_argument(
        "--teacher-steps", type=int, default=40_000, help="only when no teacher is shipped"
    )
    p.add_argument("--episodes", type=int, default=1, help="episodes of the final a2d run")
    p.add_argument("--hz", type=float, default=60.0, help="control rate of the final run")
    p.add_argument(
        "--precision",
        default="fp32",
        choices=("fp32", "int8"),
        help="of the tables and the bundle (int8: exported INT8 when it passes its check)",
    )
    p.add_argument(
        "--compare-steps",
        type=int,
        default=600,
        help="steps of each of the agent and the teacher in each loop comparison (0: none)",
    )
    p.add_argument(
        "--compare-spin-ms",
        type=float,
        default=2.0,
        help="the busy-wait window of the comparison's second sitting (with --prewarm)",
    )
    args = p.parse_args(argv)
    out = Path(args.out)
    t0 = time.perf_counter()
    try:
        fresh_folder(out)
        _step("1/5 teacher and latency table")
        tch = teacher(out, args.teacher_steps)
        lut = latency_table(out, 0.0, precision=args.precision)
        supernet = None if args.supernet_steps else shipped_supernet(args.supernet)
        how = f"from the shipped supernet {supernet}" if supernet else "training a supernet"
        budget, teacher_ms = demo_budget(tch, lut, args.budget_of_teacher)
        _step(f"2/5 distillation search at {budget:g} ms, {how}")
        search(out, tch, lut, budget, args, supernet)
        _step(f"3/5 export a verified {args.precision.upper()} bundle")
        export(str(out / "search" / "agent.pt"), out / "bundle", 256, args.precision, "this agent")
        _step(f"4/5 run it at {args.hz:g} Hz")
        run_lut = latency_table(out, args.hz, precision=args.precision)  # this minute's drift
        play(out / "bundle", out / "run.json", {"episodes": args.episodes, "hz": args.hz,
             "record": str(out / "run.gif")}, lut=run_lut)  # fmt: skip
        comparisons: list[tuple[str, dict[str, Any]]] = []
        if args.compare_steps > 0:
            _step(f"5/5 the teacher and the agent in one loop at {args.hz:g} Hz")
            export(tch, out / "teacher-bundle", 64, args.precision, "the teacher")
            comparisons = compare_loops(out, args.hz, args.compare_steps, args.compare_spin_ms)
        teacher_row = teacher_summary(tch, teacher_ms)
    except A2DError as e:
        print(f"a2d-demo: error: {e}", file=sys.stderr)
        return 2
    summary(out, teacher_row, time.perf_counter() - t0, comparisons)
    return 0


def search(
    out: Path,
    teacher: str,
    lut: Path,
    budget: float,
    args: argparse.Namespace,
    supernet: str | None,
) -> None:
    """The distillation search at `budget` ms by `lut`, from the shipped `supernet` (else a
    supernet trained for --supernet-steps), into out/search."""
    settings: dict[str, Any] = {
        "env": "ALE/Pong-v5",
        "teacher": teacher,
        "lut": str(lut),
        "latency_budget_ms": budget,
        "run_hz": 0.0,
        "recalibrate": False,  # the table was recalibrated to this sitting in step 1
        "finish_steps": args.finish_steps,
        "teacher_share_steps": args.finish_steps // 3,
        "population": 12,
        "generations": 6,
        "final_episodes": args.final_episodes,
        "learner_threads": 2,
        "eval_every": 0,
    }
    if supernet:
        settings["supernet"] = supernet
    else:
        settings["supernet_steps"] = args.supernet_steps or 30_000
    _run_command("search", settings, out / "search")


def export(spec: str, out: Path, frames: int, precision: str, who: str) -> None:
    """`spec` exported to a verified fp32 bundle in `out` (--precision int8: INT8 where it
    passes its agreement check, else fp32)."""
    if precision == "int8":
        try:
            _export(spec, out, {"frames": frames, "int8": True})
            return
        except A2DError as e:
            print(f"a2d export: error: {e}", file=sys.stderr)
            print(f"INT8 missed the agreement bar for {who}: exporting fp32")
    _export(spec, out, {"frames": frames})


def _export(spec: str, out: Path, settings: dict[str, Any]) -> None:
    from a2d_edge.config import build_config
    from a2d_edge.export.bundle import describe, export_bundle
    from a2d_edge.export.settings import ExportSettings

    _echo("a2d export", spec, out=str(out), **settings)
    manifest = export_bundle(spec, out, build_config(ExportSettings, settings))
    print("\n".join(describe(manifest, out)), flush=True)


def play(
    bundle: Path,
    report: Path,
    settings: dict[str, Any],
    lut: Path | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """`a2d run` of `bundle` with `settings` (`runtime.loop.RunSettings`), the default policy,
    judged by `lut` (rescaled to this sitting) when given; its report written to `report`."""
    from a2d_edge.config import build_config
    from a2d_edge.runtime.loop import RunSettings, run_agent, summary
    from a2d_edge.runtime.policy import PolicySpec

    said = {**settings, **({"lut": str(lut)} if lut else {}), **({"quiet": True} if quiet else {})}
    _echo("a2d run", str(bundle), **said, report=str(report))
    status = not quiet and sys.stderr.isatty()
    run_settings = build_config(RunSettings, settings, {"status": status})
    spec = build_config(PolicySpec)
    prediction = None
    if lut:
        from a2d_edge.hw.drift import bundle_prediction

        prediction = bundle_prediction(lut, bundle, run_settings.pacing, spec)
    run = run_agent(bundle, run_settings, spec, report, prediction=prediction)
    print(summary(run))
    print(f"report: {report}", flush=True)
    if run["interrupted"]:
        raise SystemExit(f"a2d-demo: step interrupted: a2d run {bundle}")
    return run


def compare_loops(
    out: Path, hz: float, steps: int, spin_ms: float
) -> list[tuple[str, dict[str, Any]]]:
    """`a2d run` of the agent's bundle with the teacher's compared in the same sitting, as the
    run waits by default and with a spin window + prewarm: (setting, comparison) of each."""
    from a2d_edge.runtime.compare import pacing_words

    settings: list[tuple[str, dict[str, Any]]] = [("compare", {})]
    if hz > 0:  # a free-running loop never waits: no spin window to compare
        settings.append(("compare-spin", {"spin_ms": spin_ms, "prewarm": True}))
    sittings = []
    for name, extra in settings:
        run = play(out / "bundle", out / f"{name}.json", {"compare": str(out / "teacher-bundle"),
                   "hz": hz, "max_steps": steps, **extra}, quiet=True)  # fmt: skip
        sittings.append((pacing_words(run["hz"], run["spin_ms"], run["prewarm"]),
                         run["comparison"]))  # fmt: skip
    return sittings


def demo_budget(teacher: str, lut: Path, share: float) -> tuple[float, float]:
    """`share` x the teacher's latency here (timed as the table's entries), or 1.15 x the
    space's fastest arch by the table where that is more: one call's overhead, the input's cast
    and the stem are a floor no architecture goes below (said in one line)."""
    from a2d_edge.hw.lut import LatencyTable
    from a2d_edge.search.start import teacher_latency

    table = LatencyTable.load(lut)
    teacher_ms, how = teacher_latency(table, teacher)
    fastest, _ = table.fastest()
    budget = round(max(share * teacher_ms, 1.15 * fastest), 4)
    print(f"teacher {teacher}: {teacher_ms:.3f} ms here ({table.describe_mode()}; {how}); the "
          f"space's fastest arch {fastest:.3f} ms; budget max({share:g} x teacher, 1.15 x "
          f"fastest) = {budget:g} ms")  # fmt: skip
    return budget, teacher_ms


def teacher_summary(spec: str, teacher_ms: float) -> tuple[str, str]:
    """The teacher's shipped score (its card) and its latency here, as timed for the budget."""
    score = "n/a"
    card = zoo_card(spec)
    if card is not None:
        score = f"{card['eval']['mean']:.1f} ({card['eval']['episodes']} episodes, its card)"
    return score, f"{teacher_ms:.3f} ms"


def summary(
    out: Path,
    teacher_row: tuple[str, str],
    seconds: float,
    comparisons: list[tuple[str, dict[str, Any]]] | None = None,
) -> None:
    search = json.loads((out / "search" / "search.json").read_text())
    result = json.loads((out / "search" / "result.json").read_text())
    run = json.loads((out / "run.json").read_text())
    manifest = json.loads((out / "bundle" / "manifest.json").read_text())
    lat = search["latency"]
    inf = run["latency_us"]["inference"]
    int8 = manifest["verification"].get("int8_vs_fp32", {}).get("action_agreement")
    score = result.get("score") or {}
    rows = [
        ("latency table of the budget", f"{Path(lat['table']).name} ({lat['table_mode']})"),
        ("latency table of the run", _run_table(run.get("lut"))),
        ("teacher: score / latency here", f"{teacher_row[0]} / {teacher_row[1]}"),
        ("latency budget (table)", f"{lat['budget_ms']:.3f} ms"),
        ("agent: predicted latency (table)", f"{lat['predicted_ms']:.3f} ms"),
        ("agent: measured at search end", _measured(result.get("latency") or lat)),
        ("agent at search end against the budget", _verdict(result.get("latency") or {})),
        (
            f"agent: measured in the run ({run['policy']})",
            f"p50 {inf['p50'] / 1000:.3f} / p99 {inf['p99'] / 1000:.3f} ms",
        ),
        ("in-run p50 / table prediction", _judged(run.get("lut"))),
        ("deadline misses", f"{run['misses']} of {run['steps']}"),
        ("agent: FLOPs", f"{search['derived_flops'] / 1e6:.2f} M"),
        ("INT8 action agreement with fp32", f"{100 * int8:.1f}%" if int8 else "no INT8 model"),
        (
            "agent: score, search's evaluation",
            f"{score.get('mean', float('nan')):.1f} {score.get('scores')}" if score else "n/a",
        ),
        ("agent: score in the run (episodes)", f"{run['score_mean']} {run['scores']}"),
    ]
    print(f"\n{'=' * 64}\n a2d demo summary ({seconds / 60:.1f} min)\n{'=' * 64}")
    width = max(len(k) for k, _ in rows) + 2
    for k, v in rows:
        print(f" {k:<{width}}{v}")
    print(
        f"\n searched arch: {out / 'search' / 'arch.json'}\n agent: {out / 'search' / 'agent.pt'}"
        f"\n bundle: {out / 'bundle'}\n run report: {out / 'run.json'}\n video: {out / 'run.gif'}"
    )
    summary_json: dict[str, Any] = {"rows": dict(rows), "loop_comparison": []}
    if comparisons:
        from a2d_edge.runtime.compare import comparison_table

        print(f"\n the teacher and the agent in one loop ({_sitting_words(comparisons)}):")
        print(comparison_table(comparisons, labels=("agent", "teacher")))
        summary_json["loop_comparison"] = [
            {"setting": setting, **comp} for setting, comp in comparisons
        ]
    from a2d_edge.utils.io import write_json

    write_json(out / "summary.json", summary_json)
    print(f" summary: {out / 'summary.json'}")


def _sitting_words(comparisons: list[tuple[str, dict[str, Any]]]) -> str:
    comp = comparisons[0][1]
    return (f"{comp['steps'][0]} steps each per setting, in turn in blocks of "
            f"{comp['block_steps']}; teacher / agent is the speed-up")  # fmt: skip


def _measured(lat: dict) -> str:  # type: ignore[type-arg]
    """The search end's sitting (agent beside teacher), or an older run's single timing."""
    from a2d_edge.search.timing import describe_measured

    if lat.get("measured"):
        return describe_measured(lat["measured"])
    return f"{lat['measured_ms']:.3f} ms" if lat.get("measured_ms") else "n/a"


def _verdict(lat: dict) -> str:  # type: ignore[type-arg]
    judged = (lat.get("measured") or {}).get("judgement")
    return str(judged["status"]) if judged else "n/a"


def _run_table(lut: dict | None) -> str:  # type: ignore[type-arg]
    return f"{Path(lut['table']).name} ({lut['mode']})" if lut else "n/a"


def _judged(lut: dict | None) -> str:  # type: ignore[type-arg]
    if not lut or lut.get("p50_over_predicted") is None:
        return "n/a"
    ratio = float(lut["p50_over_predicted"])
    verdict = "within" if abs(ratio - 1) <= 0.15 else "outside"
    return f"{ratio:.2f}x of {lut['predicted_ms']:.3f} ms ({verdict} ±15%)"


if __name__ == "__main__":
    sys.exit(main())
