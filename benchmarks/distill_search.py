"""The distillation-driven search against hand-made and random baselines at fractions of the
teacher's own latency (issue 18's evidence).

For each --fractions f: the budget is f x the teacher's latency measured here with the table's
backend, precision and timing mode (or the space's fastest arch by the table, where that is
higher: the floor); `a2d search` runs at that budget (the first trains the supernet, the
others select from it: `--supernet`). Baselines are trained by the same recipe (`a2d distill`,
the finish's distillation from scratch, the same --finish-steps): each --baselines arch, and
--random archs of the space drawn until they fit the budget of each --random-fractions. Every run is
a folder under --out, skipped when it has its result.json and resumed otherwise, so the script
continues after a kill; each finished run's summaries are copied to --keep at once, and a run
found there is not trained again (a series resumed on a machine without its run folders). It
prints one table (score, latency measured here, FLOPs, wall time) and draws score vs measured
latency (the Pareto picture).

--lut is the target: the budgets, the selection and the random draws follow its table. A table
of another device continues a series started there (its budgets: that sitting's teacher), with
--time-with one of this host's tables timing every agent and the teacher at the end.

    python -m benchmarks.distill_search \\
        --lut latency_tables/amd-epyc-2c-avx2-onnxruntime-fp32-fast.json \\
        --fractions 0.333 --baselines nature-thin --random 0
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from a2d_edge.rl.schedule import SHAPES
from benchmarks.common import machine, table


def run(argv: list[str]) -> None:
    from a2d_edge.cli import main

    print("$ a2d " + " ".join(argv), flush=True)
    if main(argv) != 0:
        raise SystemExit(f"failed: a2d {' '.join(argv)}")


def once(out: Path, argv: list[str], kept: Path | None = None) -> dict[str, Any]:
    """Run `argv` into `out` (resume it when it was started) and return its result.json; a run
    whose folder is gone but whose summaries were kept (`kept`: another sitting's, maybe on
    another host) is not trained again. A finished run's summaries are kept at once, so a
    lost run folder loses no finished run."""
    if not (out / "result.json").exists():
        if kept is not None and (kept / "result.json").exists() and not out.exists():
            print(f"{out.name}: kept result {kept / 'result.json'}", flush=True)
            return json.loads((kept / "result.json").read_text())
        if (out / "config.json").exists():
            run([argv[0], "--resume", str(out)])
        else:
            run([*argv, "--out", str(out)])
    if kept is not None:
        keep_summaries(out.parent, kept.parent, [out.name], quiet=True)
    return json.loads((out / "result.json").read_text())


def rl_search(out: Path, argv: list[str], steps: int, kept: Path | None = None) -> Path:
    """The paper's RL-driven search into `out` (resumed when it was started, skipped when it
    reached `steps`, or when its folder is gone and `kept` holds its finished summaries); its
    derived arch.json."""

    def reached(folder: Path) -> bool:
        done = folder / "search.json"
        return done.exists() and int(json.loads(done.read_text()).get("step", 0)) >= steps

    if kept is not None and not out.exists() and reached(kept) and (kept / "arch.json").exists():
        return kept / "arch.json"
    if not reached(out):
        if (out / "config.json").exists():
            run(["search", "--resume", str(out)])
        else:
            run([*argv, "--out", str(out)])
    return out / "arch.json"


def series_teacher_ms(
    out: Path,
    lut: str,
    teacher: str,
    measure: Callable[[], float],
    kept: Path | None = None,
) -> float:
    """The teacher latency the folder's budgets are fractions of: the one of the sitting that
    started the series with this table and teacher (`series.json`; older folders: their
    summary.json; in `out`, else in the `kept` summaries of a series whose run folders are
    gone), else the teacher timed now (`measure`), then recorded. A resumed series keeps its
    budgets (the VM's speed drifts by tens of percent between sittings) and does not time the
    teacher for them again."""
    for path in (d / n for d in (out, kept) if d for n in ("series.json", "summary.json")):
        if path.exists():
            s = json.loads(path.read_text())
            ms = s.get("budget_teacher_ms", s.get("teacher_ms"))
            if s.get("table") == lut and s.get("teacher") == teacher and isinstance(ms, float):
                return ms
    from a2d_edge.utils.io import write_json

    measured = measure()
    write_json(
        out / "series.json", {"table": lut, "teacher": teacher, "budget_teacher_ms": measured}
    )
    return measured


def fraction_budget(f: float, teacher_ms: float, fastest_ms: float) -> tuple[float, bool]:
    """The budget of fraction f: f x the teacher, raised to the space's fastest arch where that
    is slower (then True: the budget is the floor, not the fraction), rounded up to 0.1 µs so
    that the floor itself fits."""
    return math.ceil(max(f * teacher_ms, fastest_ms) * 1e4) / 1e4, fastest_ms > f * teacher_ms


def fitting_randoms(
    space: Any, lut: Any, budget_ms: float, n: int, seed: int, draws: int = 100_000
) -> list[dict[str, Any]]:
    """Up to `n` distinct random archs of the space that fit the budget by the table, in the
    order drawn (the same on a rerun); fewer where `draws` draws find fewer (a budget at the
    space's floor admits a handful of archs, or one)."""
    import random

    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(draws):
        if len(out) == n:
            break
        arch = space.random_arch(rng)  # an op space or a width space
        key = json.dumps(arch, sort_keys=True)
        if key not in seen and lut.predict(arch) <= budget_ms:
            seen.add(key)
            out.append(arch)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", default="ALE/Pong-v5")
    p.add_argument("--teacher", default="zoo:pong")
    p.add_argument("--lut", required=True)
    p.add_argument("--fractions", type=float, nargs="+", default=[0.5, 0.333, 0.2])
    p.add_argument(
        "--baselines",
        nargs="*",
        default=["nature", "nature-half", "nature-quarter", "nature-thin", "resnet14"],
    )
    p.add_argument("--random", type=int, default=5, help="random archs that fit the budget")
    p.add_argument(
        "--random-fractions",
        type=float,
        nargs="*",
        default=[0.333],
        help="the budgets (fractions of the teacher) the --random archs are drawn to fit",
    )
    p.add_argument("--supernet-steps", type=int, default=100_000)
    p.add_argument(
        "--supernet",
        default="",
        help="a trained supernet (DIR|zoo:NAME) every search selects from (no supernet phase)",
    )
    p.add_argument(
        "--rl-fractions",
        type=float,
        nargs="*",
        default=[],
        help="also the paper's RL-driven search (a2d search-rl: Fig. 2's A2D one-level, hard "
        "Gumbel, the table's latency term instead of FLOPs) at these fractions; its derived "
        "arch is then trained by the same recipe as the baselines",
    )
    p.add_argument("--rl-steps", type=int, default=500_000, help="agent steps of an RL search")
    p.add_argument("--finish-steps", type=int, default=300_000)
    p.add_argument(
        "--finish-lr-schedule",
        choices=SHAPES,
        default="constant",
        help="the finish's lr over its steps, for the searches and every baseline alike",
    )
    p.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="the distillation's weight steps, for the searches and every baseline alike",
    )
    p.add_argument("--episodes", type=int, default=30)
    p.add_argument("--learner-threads", type=int, default=2)
    p.add_argument(
        "--timing-rounds",
        type=int,
        default=10,
        help="the closing timing: every net and the teacher once per round; each net's fastest "
        "round (the p50 of its 100 calls) is its latency; the median round is kept beside",
    )
    p.add_argument("--out", default="runs/distill-pong", help="run folders (checkpoints)")
    p.add_argument(
        "--keep",
        default="results/distill-pong",
        help="where each run's summaries are copied (no checkpoints; committed)",
    )
    p.add_argument("--plot", default="docs/img/distill-pareto-Pong.png")
    p.add_argument(
        "--time-with",
        default="",
        help="this host's table whose backend and settings time every agent and the teacher "
        "at the end (default: --lut, which then must be this host's). With it, --lut may be "
        "another device's table (the target: budgets, selection and random draws follow it) "
        "for a series started on that device (its series.json holds the budgets' teacher)",
    )
    args = p.parse_args()

    from a2d_edge.hw.table import load_table
    from a2d_edge.search.prepare import latency_is_local
    from a2d_edge.search.start import teacher_latency_ms
    from a2d_edge.search.timing import sitting_here
    from a2d_edge.sources.checkpoint import shipped_eval
    from a2d_edge.utils.io import write_json

    lut = load_table(args.lut)  # an op table or a width table
    clock = load_table(args.time_with) if args.time_with else lut  # times the closing sitting
    if not latency_is_local(clock):  # every agent and the teacher are timed here at the end
        which = args.time_with or args.lut
        raise SystemExit(
            f"distill_search: {which} is not this host's table (a2d-profile; or --time-with "
            "one of this host's)"
        )
    out, keep = Path(args.out), Path(args.keep)

    def teacher_here() -> float:
        if not latency_is_local(lut):
            raise SystemExit(
                f"distill_search: {args.lut} is another host's table and neither {out} nor "
                f"{keep} holds a series of it: its budgets come from that host's teacher"
            )
        return teacher_latency_ms(lut, args.teacher)

    teacher_ms = series_teacher_ms(out, args.lut, args.teacher, teacher_here, keep)
    out.mkdir(parents=True, exist_ok=True)
    fastest, _ = lut.fastest()
    card = shipped_eval(args.teacher)
    common = [
        "--env",
        args.env,
        "--teacher",
        args.teacher,
        "--lut",
        args.lut,
        "--finish-steps",
        str(args.finish_steps),
        "--finish-lr-schedule",
        args.finish_lr_schedule,
        "--final-episodes",
        str(args.episodes),
        "--learner-threads",
        str(args.learner_threads),
        "--precision",
        args.precision,
        "--no-progress",
    ]

    def budget_of(f: float) -> float:
        return fraction_budget(f, teacher_ms, fastest)[0]

    def at_floor(f: float) -> bool:
        return fraction_budget(f, teacher_ms, fastest)[1]

    rows: list[dict[str, Any]] = []
    first: Path | None = None
    for f in args.fractions:
        budget = budget_of(f)
        name = out / f"search-{f:g}"
        argv = [
            "search",
            *common,
            "--preset",
            lut.space.name,
            "--latency-budget-ms",
            str(budget),
        ]
        reused = args.supernet or (str(first) if first is not None else "")
        argv += ["--supernet", reused] if reused else ["--supernet-steps", str(args.supernet_steps)]
        res = once(name, argv, keep / name.name)
        first = first or name
        rows.append(
            {
                "run": name.name,
                "kind": f"search at {f:g} x teacher",
                "budget_ms": (res.get("latency") or {}).get("budget_ms") or budget,
                "floor": at_floor(f),
                **res,
            }
        )
    for f in args.rl_fractions:
        budget = budget_of(f)
        rl_argv = [
            "search-rl",
            "--env",
            args.env,
            "--teacher",
            args.teacher,
            "--preset",
            lut.space.name,
            "--lut",
            args.lut,
            "--latency-budget-ms",
            str(budget),
            "--run-hz",
            "0",  # the warm table's mode
            "--flops-weight",
            "0",
            "--distill",
            "actor-critic",
            "--distill-actor-weight",
            "1",
            "--distill-critic-weight",
            "0.01",
            "--optimization",
            "one-level",
            "--steps",
            str(args.rl_steps),
            "--eval-every",
            str(args.rl_steps),
            "--eval-episodes",
            "2",
            "--checkpoint-every",
            "50000",
            "--learner-threads",
            str(args.learner_threads),
            "--no-progress",
        ]
        derived = rl_search(out / f"rl-{f:g}", rl_argv, args.rl_steps, keep / f"rl-{f:g}")
        finish = f"rl-{f:g}-finish"
        res = once(out / finish, ["distill", *common, "--arch", str(derived)], keep / finish)
        rows.append(
            {
                "run": f"rl-{f:g}-finish",
                "kind": f"RL search at {f:g} x teacher, trained by the recipe",
                "budget_ms": budget,
                "floor": at_floor(f),
                **res,
            }
        )
    archs: list[tuple[str, Any, float | None]] = [(b, b, None) for b in args.baselines]
    for f in args.random_fractions:
        fits = budget_of(f)
        drawn = fitting_randoms(lut.space, lut, fits, args.random, seed=7)
        if len(drawn) < args.random:
            print(f"only {len(drawn)} distinct archs of the space fit {fits:.4f} ms", flush=True)
        for i, arch in enumerate(drawn):
            path = out / f"random-{f:g}-{i}.arch.json"
            write_json(path, arch)
            archs.append((f"random-{f:g}-{i}", str(path), fits))
    for label, arch, budget_r in archs:
        res = once(
            out / f"base-{label}", ["distill", *common, "--arch", arch], keep / f"base-{label}"
        )
        kind = "baseline" if budget_r is None else "random arch that fits the budget"
        rows.append({"run": f"base-{label}", "kind": kind, "budget_ms": budget_r, **res})
    # every agent and the teacher timed again in this sitting, in interleaved rounds (the VM's
    # speed drifts within minutes): per net the fastest round's p50 (noise on a shared VM only
    # adds; timeit's rule), the median round beside it
    from a2d_edge.sources.checkpoint import load_checkpoint

    teacher = load_checkpoint(args.teacher)
    nets = {r["run"]: r["arch"] for r in rows} | {"teacher": teacher["arch"]}
    n_actions = int(teacher["n_actions"])  # every net with its game's head, not the table's
    sitting = sitting_here(clock, nets, n_actions, args.timing_rounds)
    teacher_t = sitting.timed("teacher")
    if teacher_t is None:
        raise SystemExit(f"could not time the teacher {args.teacher} with {clock.path}'s backend")
    teacher_now = teacher_t.fastest_ms
    for r in rows:
        t, ratio = sitting.timed(r["run"]), sitting.ratio(r["run"], "teacher")
        r["measured_now_ms"] = t.fastest_ms if t else None
        r["measured_now_median_ms"] = t.median_ms if t else None
        r["measured_now_spread"] = t.spread if t else None
        r["x_teacher_now"] = ratio.median if ratio else None  # drift-free: per-round ratios
    summary = {
        "host": machine(),
        "teacher": args.teacher,
        "budget_teacher_ms": teacher_ms,
        "teacher_ms": teacher_now,
        "teacher_median_ms": teacher_t.median_ms,
        "teacher_spread": teacher_t.spread,
        "timing_rounds": args.timing_rounds,
        "teacher_score": card.get("mean"),
        "fastest_ms": fastest,
        "table": args.lut,
        "table_host": lut.device.get("slug"),  # the target the budgets and the selection are of
        "timed_with": args.time_with or args.lut,  # whose backend and settings timed the rows
        "rows": rows,
    }
    write_json(out / "summary.json", summary)
    searches = [f"rl-{f:g}" for f in args.rl_fractions]  # the RL searches' own outputs
    keep_summaries(out, keep, [r["run"] for r in rows] + searches)
    print(
        f"\n{machine()}\nteacher {args.teacher}: {teacher_now:.3f} ms measured here "
        f"(budgets are fractions of {teacher_ms:.3f} ms, the series' first sitting) "
        f"({clock.describe_mode()}), score {card.get('mean')}; fastest arch by the table "
        f"{fastest:.3f} ms\n"
    )
    print(
        table(
            [
                "run",
                "budget ms",
                "measured ms (this sitting)",
                "x teacher",
                "MFLOPs",
                "score (30 ep.)",
                "wall min",
            ],
            [_row(r, teacher_now) for r in rows],
        )
    )
    plot(keep, out / "report", Path(args.plot), args.time_with or None)


KEPT = (
    "config.json",
    "search.json",
    "arch.json",
    "result.json",
    "walls.json",
    "supernet/metrics.jsonl",
    "finish/metrics.jsonl",
    "supernet/precision.json",  # what --precision auto chose for each phase
    "finish/precision.json",
    "metrics.jsonl",  # an RL search's
)


def keep_summaries(out: Path, keep: Path, runs: list[str], quiet: bool = False) -> None:
    """Copy each run's small files (settings, selection, result, learning curves) to `keep`."""
    import shutil

    for name in runs:
        for rel in KEPT:
            src = out / name / rel
            if src.exists():
                (keep / name / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, keep / name / rel)
    for name in ("summary.json", "series.json"):
        if (out / name).exists():
            shutil.copyfile(out / name, keep / name)
    if not quiet:
        print(f"summaries kept in {keep}")


def _ms(r: dict[str, Any]) -> float | None:
    """The agent's latency timed in this sitting, else at the end of its own run."""
    return r.get("measured_now_ms") or (r.get("latency") or {}).get("measured_ms")


def _row(r: dict[str, Any], teacher_ms: float) -> list[object]:
    score = r.get("score") or {}
    ms = _ms(r)
    walls = r.get("wall_seconds") or {}
    return [
        r["run"],
        f"{r['budget_ms']:.3f}" if r.get("budget_ms") else "-",
        f"{ms:.3f}" if ms else "n/a",
        f"{r['x_teacher_now']:.2f}"
        if r.get("x_teacher_now")
        else f"{ms / teacher_ms:.2f}"
        if ms
        else "n/a",
        f"{r['mflops']:.2f}",
        f"{score['mean']:.1f} ± {score['std']:.1f}" if score else "n/a",
        f"{sum(walls.values()) / 60:.0f}",
    ]


def plot(keep: Path, report_dir: Path, path: Path, time_with: str | None = None) -> None:
    """`a2d report`'s score-vs-measured-latency figure of the kept series (its agents at this
    sitting's timings, beside the teacher; with `time_with`, every net timed again by that
    table and each budget the same fraction of the teacher timed so), copied to `path`; the
    report stays in `report_dir`."""
    import shutil

    from a2d_edge.experiments.report import write_report

    report = write_report([keep], report_dir, time_with=time_with)
    if "pareto.png" in report.figures:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(report_dir / "pareto.png", path)
        print(f"plot: {path} (report: {report_dir / 'report.md'})")


if __name__ == "__main__":
    from a2d_edge.errors import A2DError

    try:
        main()
    except A2DError as e:  # a malformed table, an unknown teacher, a failed run's refusal
        raise SystemExit(f"distill_search: {e}") from None
