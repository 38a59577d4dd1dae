"""Batch-1 latency on this CPU: torch eager fp32 vs ONNX Runtime fp32 vs ONNX Runtime INT8.

For each agent (Nature CNN, ResNet-20, a searched edge agent; weights from `--checkpoint` for
the Nature CNN when given, else fresh), the forms are timed interleaved in one process
(1 thread, warm-up, `--repeats` calls each), median and p99 in microseconds. INT8 is the
bundle's own model (QDQ calibrated on the agent's own frames, then the `int8_graph` rewrites),
shown beside the plain QDQ graph it was rewritten from; the ratios are the bundle's INT8, and
its greedy-action agreement with fp32 on held-out frames is shown.

    python -m benchmarks.export_latency --repeats 2000 [--checkpoint runs/pong-nature/agent.pt]

INT8 above is the recipe the export picks for this host's ISA (`compile.quantize.recipe_for`).
`--recipes` then times every ORT recipe's rewritten model in the same interleaved run and
prints its latency and greedy agreement with fp32: computed by this host's own int8 kernels
(what runs here) and in exact arithmetic (the QDQ graph as written: what a CPU whose int8
kernels sum in int32 runs), the measurement behind the recipe each ISA gets.

`--profile N` then runs each ORT model N more times under ORT's profiler and prints where its
node time goes, by op type (µs per call): the graph ORT actually runs, after its fusions.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from functools import partial
from pathlib import Path

import numpy as np
import torch

from a2d_edge.hw.timing import Runner
from a2d_edge.nets import ActorCritic, build_agent, load_arch, random_arch
from benchmarks.common import machine, table


def agents(checkpoint: str | None) -> dict[str, ActorCritic]:
    from a2d_edge.sources.checkpoint import load_agent

    torch.manual_seed(0)
    nature = load_agent(checkpoint)[0] if checkpoint else build_agent(load_arch("nature"), 6)
    return {
        "Nature CNN": nature,
        "ResNet-20": build_agent(load_arch("resnet20"), 6),
        "searched (edge, seed 0)": build_agent(random_arch("edge", 0), 6),
    }


def op_profile(model: bytes, feed: dict[str, np.ndarray], threads: int, calls: int) -> dict:
    """µs per call of each op type in ORT's per-node profile, and their total (`"all"`)."""
    from a2d_edge.runtime.backends import ort_session

    with tempfile.TemporaryDirectory() as tmp:
        session = ort_session(model, threads, profile=str(Path(tmp) / "p"))
        for _ in range(calls):
            session.run(None, feed)
        events = json.loads(Path(session.end_profiling()).read_text())
    per_op: dict[str, float] = defaultdict(float)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_op[e["args"]["op_name"]] += e["dur"] / calls
    return {"all": sum(per_op.values()), **dict(sorted(per_op.items(), key=lambda t: -t[1]))}


def profile_rows(name: str, profiles: dict[str, dict], top: int = 6) -> list[list[str]]:
    rows = []
    for form, prof in profiles.items():
        ops = [f"{op} {us:.0f}" for op, us in list(prof.items())[1 : top + 1]]
        rows.append([name, form, f"{prof['all']:.0f}", ", ".join(ops)])
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repeats", type=int, default=2000)
    p.add_argument("--checkpoint", help="a trained Nature-CNN agent.pt (for real INT8 agreement)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--profile", type=int, default=0, metavar="N", help="ORT profile calls")
    p.add_argument(
        "--recipes", default="", help="also time these INT8 recipes (comma-separated, or 'all')"
    )
    args = p.parse_args()

    from a2d_edge.compile.int8_graph import rewrite_int8
    from a2d_edge.compile.quantize import RECIPES, quantize_int8, recipe_for
    from a2d_edge.export.frames import gather_frames
    from a2d_edge.export.onnx_export import compare, export_onnx, ort_predict
    from a2d_edge.hw.timing import parse_samples, time_interleaved
    from a2d_edge.runtime.backends import ort_session

    torch.set_num_threads(args.threads)
    host = recipe_for("host")
    recipes = [n for n, r in RECIPES.items() if r.rewrites] if args.recipes == "all" else [
        n for n in args.recipes.split(",") if n
    ]  # fmt: skip
    rows, prof_rows, recipe_rows = [], [], []
    for name, model in agents(args.checkpoint).items():
        model.eval()
        calib = gather_frames(model, "ALE/Pong-v5", 128, seed=0)
        held = gather_frames(model, "ALE/Pong-v5", 256, seed=1)
        fp32 = export_onnx(model)
        plain = quantize_int8(fp32, calib, host, rewrites=())
        int8 = rewrite_int8(plain, host.rewrites)[0]
        agreement = compare(ort_predict(fp32), ort_predict(int8), held)
        by_recipe = {r: quantize_int8(fp32, calib, r) for r in recipes}
        x = held[:1].copy()
        xt = torch.from_numpy(x)
        s32, s8 = ort_session(fp32, args.threads), ort_session(int8, args.threads)
        s8_plain = ort_session(plain, args.threads)
        feed = {"frames": x}

        def eager(m=model, xt=xt) -> None:
            with torch.inference_mode():
                m(xt)

        runners: dict[str, Runner] = {
            "torch": eager,
            "ort32": partial(s32.run, None, feed),
            "ort8_plain": partial(s8_plain.run, None, feed),
            "ort8": partial(s8.run, None, feed),
        }
        for r, m in by_recipe.items():
            runners[f"recipe {r}"] = partial(ort_session(m, args.threads).run, None, feed)
        samples = time_interleaved(runners, args.repeats, warmup=50)
        t = {k: parse_samples(v) for k, v in samples.items()}
        p99 = {k: float(np.percentile(np.asarray(v) / 1000, 99)) for k, v in samples.items()}
        rows.append([
            name,
            f"{t['torch'].p50_us:.0f} / {p99['torch']:.0f}",
            f"{t['ort32'].p50_us:.0f} / {p99['ort32']:.0f}",
            f"{t['ort8_plain'].p50_us:.0f} / {p99['ort8_plain']:.0f}",
            f"{t['ort8'].p50_us:.0f} / {p99['ort8']:.0f}",
            f"{t['ort8'].p50_us / t['torch'].p50_us:.2f}×",
            f"{t['ort8'].p50_us / t['ort32'].p50_us:.2f}×",
            f"{t['ort8_plain'].p50_us / t['ort32'].p50_us:.2f}×",
            f"{100 * agreement['action_agreement']:.1f}% / "
            f"{100 * agreement['decisive_agreement']:.1f}%",
        ])  # fmt: skip
        for r, m in by_recipe.items():
            k = t[f"recipe {r}"]
            here, exact = (compare(ort_predict(fp32), ort_predict(m, exact=e), held)
                           for e in (False, True))  # fmt: skip
            recipe_rows.append([
                name, r + (" (this host's)" if r == host.name else ""),
                f"{k.p50_us:.0f} / {p99[f'recipe {r}']:.0f}",
                f"{k.p50_us / t['ort32'].p50_us:.2f}×",
                f"{100 * here['action_agreement']:.1f}% / {100 * here['decisive_agreement']:.1f}%",
                f"{100 * exact['action_agreement']:.1f}% / "
                f"{100 * exact['decisive_agreement']:.1f}%",
            ])  # fmt: skip
        if args.profile:
            forms = {"ORT fp32": fp32, "ORT INT8 rewritten": int8}
            profiles = {
                k: op_profile(m, feed, args.threads, args.profile) for k, m in forms.items()
            }
            prof_rows += profile_rows(name, profiles)
        print(f"  {name} done", file=sys.stderr)
    print(
        f"\nbatch 1, {args.threads} thread(s), {args.repeats} interleaved calls each; {machine()}\n"
    )
    print(table(["agent", "torch eager fp32 p50/p99 µs", "ORT fp32 p50/p99 µs",
                 "ORT INT8 plain QDQ p50/p99 µs", "ORT INT8 rewritten p50/p99 µs", "INT8 / torch",
                 "INT8 / ORT fp32", "plain INT8 / ORT fp32",
                 "INT8 action agreement: all / not tied"],
                rows))  # fmt: skip
    print(f"\nINT8 recipe {host.name} ({host.summary})")
    if recipe_rows:
        print("\nINT8 recipes, rewritten, in the same interleaved run; agreement with fp32 on "
              "256 held-out frames: all / not tied (top-two gap >= 0.05)\n")  # fmt: skip
        print(table(["agent", "recipe", "p50/p99 µs", "/ ORT fp32",
                     "agreement, this host's kernels", "agreement, exact arithmetic"],
                    recipe_rows))  # fmt: skip
    if prof_rows:
        print(f"\nORT per-node profile, {args.profile} calls: node time per call (µs)\n")
        print(table(["agent", "model", "all nodes µs", "largest op types µs"], prof_rows))


if __name__ == "__main__":
    main()
