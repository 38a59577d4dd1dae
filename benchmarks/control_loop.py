"""Control-loop overhead beyond inference, and the inference tail (p99 / p50), at batch 1.

Runs `a2d run` free-running (`--hz 0`) on a bundle for `--steps` steps and splits each step
into inference (the session call), the env step (ALE, preprocessing included) and the rest:
the loop's own overhead (reading the observation, choosing the action, bookkeeping).

    python -m benchmarks.control_loop BUNDLE --steps 5000
    python -m benchmarks.control_loop BUNDLE --steps 5000 --cpus 1 --rt-priority 50
    python -m benchmarks.control_loop BUNDLE --steps 5000 --hz 60 --hz-steps 600

Each model runs `--rounds` times, interleaved, and the table gives medians over the rounds. With
`--cpus`/`--rt-priority` each round also runs the loop pinned, under SCHED_FIFO and with its
memory locked (`a2d run --cpus C --rt-priority P --lock-memory`). The "floor" rows time the bare
session call back to back on one real frame, with no loop: no loop's inference p99/p50 can
be steadier than the machine repeats that call.

With `--hz F` it also runs the loop at a fixed rate F three ways, in interleaved rounds: sleeping
until each tick, busy-waiting the last `--spin-ms` before it, and spinning with one discarded
inference first (`a2d run --spin-ms S --prewarm`); a sleeping core runs the next inference
slower than back-to-back calls do.
"""

from __future__ import annotations

import argparse

from benchmarks.common import machine, median, table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("bundle")
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--hz", type=float, default=0.0, help="also compare waits at this rate")
    p.add_argument("--hz-steps", type=int, default=600, help="steps per fixed-rate round")
    p.add_argument("--spin-ms", type=float, default=2.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--cpus", default="", help="also run pinned to these CPUs (taskset syntax)")
    p.add_argument(
        "--rt-priority", type=int, default=0, help="... under SCHED_FIFO at this priority, mlocked"
    )
    args = p.parse_args()
    from a2d_edge.runtime.loop import RunSettings, run_agent
    from a2d_edge.runtime.policy import PolicySpec
    from a2d_edge.runtime.realtime import RealtimeSettings, parse_cpus

    rt = RealtimeSettings(parse_cpus(args.cpus), args.rt_priority, args.rt_priority > 0)
    ways = {"default": RealtimeSettings()}
    if rt.active:
        ways[f"cpus {args.cpus}, FIFO {args.rt_priority}, mlock"] = rt
    got: dict[tuple[str, str], list[dict]] = {}  # type: ignore[type-arg]
    floor: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.rounds):  # interleaved, so drift spreads over every row
        for precision in ("fp32", "int8"):
            floor.setdefault(precision, []).append(back_to_back(args.bundle, precision, args))
            for way, realtime in ways.items():
                settings = RunSettings(hz=0, max_steps=args.steps, episodes=10**6, status=False,
                                       realtime=realtime)  # fmt: skip
                spec = PolicySpec("ort-cpu", precision, args.threads)
                got.setdefault((precision, way), []).append(run_agent(args.bundle, settings, spec))
    rows = []
    for (precision, way), runs in got.items():
        lat = [r["latency_us"] for r in runs]
        p50 = median([x["inference"]["p50"] for x in lat])
        p99 = median([x["inference"]["p99"] for x in lat])
        ratios = [x["inference"]["p99"] / x["inference"]["p50"] for x in lat]
        rows.append([
            precision, way, f"{p50:.1f}", f"{p99:.1f}", f"{median(ratios):.2f}",
            " / ".join(f"{r:.2f}" for r in ratios),
            f"{median([x['env_step']['p50'] for x in lat]):.1f}",
            f"{median([x['overhead']['p50'] for x in lat]):.1f}",
            f"{median([x['overhead']['p99'] for x in lat]):.1f}",
        ])  # fmt: skip
    for precision, pairs in floor.items():
        ratios = [p99 / p50 for p50, p99 in pairs]
        rows.append([
            precision, "floor: the same call back to back, no loop",
            f"{median([p[0] for p in pairs]):.1f}", f"{median([p[1] for p in pairs]):.1f}",
            f"{median(ratios):.2f}", " / ".join(f"{r:.2f}" for r in ratios), "", "", "",
        ])  # fmt: skip
    print(f"\n{args.steps} steps free-running per run, {args.rounds} interleaved rounds (medians), "
          f"{args.threads} thread(s); {machine()}\n")  # fmt: skip
    print(table(["model", "loop", "inference p50 µs", "inference p99 µs", "p99/p50",
                 "p99/p50 per round", "env step p50 µs", "loop overhead p50 µs",
                 "overhead p99 µs"], rows))  # fmt: skip
    print("\nparts of a step, median of interleaved calls:\n")
    print(table(["part", "old", "old µs", "now", "now µs"], components(args.bundle, args.threads)))
    if args.hz > 0:
        print(f"\nINT8 inside a {args.hz:g} Hz loop, {args.rounds} interleaved rounds of "
              f"{args.hz_steps} steps (median of the rounds' p50 / p99):\n")  # fmt: skip
        print(table(["wait", "inference p50 µs", "p99 µs", "p99/p50", "misses"], fixed_rate(args)))


def fixed_rate(args: argparse.Namespace) -> list[list[str]]:
    from a2d_edge.runtime.loop import RunSettings, run_agent
    from a2d_edge.runtime.policy import PolicySpec

    ways = {
        "sleep": {},
        f"spin {args.spin_ms:g} ms": {"spin_ms": args.spin_ms},
        f"spin {args.spin_ms:g} ms + prewarm": {"spin_ms": args.spin_ms, "prewarm": True},
    }
    got: dict[str, list[tuple[float, float, int]]] = {w: [] for w in ways}
    for _ in range(args.rounds):
        for way, extra in ways.items():
            settings = RunSettings(hz=args.hz, max_steps=args.hz_steps, episodes=10**6,
                                   status=False, **extra)  # type: ignore[arg-type]  # fmt: skip
            r = run_agent(args.bundle, settings, PolicySpec("ort-cpu", "int8", args.threads))
            inf = r["latency_us"]["inference"]
            got[way].append((inf["p50"], inf["p99"], r["misses"]))
    rows = []
    for way, runs in got.items():
        p50, p99 = median([r[0] for r in runs]), median([r[1] for r in runs])
        misses = sum(r[2] for r in runs)
        rows.append([way, f"{p50:.1f}", f"{p99:.1f}", f"{p99 / p50:.2f}", str(misses)])
    return rows


def back_to_back(bundle: str, precision: str, args: argparse.Namespace) -> tuple[float, float]:
    """p50 and p99 (µs) of the bare session call on one real frame, back to back: what this
    machine repeats with no loop around the call, the floor under any loop's p99/p50."""
    import time

    import numpy as np

    from a2d_edge.envs import AtariSettings, make_vec_env
    from a2d_edge.runtime.bundle import load_bundle
    from a2d_edge.runtime.policy import OrtPolicy

    b = load_bundle(bundle)
    env = make_vec_env(b.env_id, 1, AtariSettings.from_dict(b.manifest["preprocessing"]))
    try:
        frames, _ = env.reset(seed=0)
    finally:
        env.close()
    policy = OrtPolicy(str(b.model_path(precision)), args.threads)
    for _ in range(200):
        policy.logits(frames)
    ns = []
    for _ in range(args.steps):
        t = time.perf_counter_ns()
        policy.logits(frames)
        ns.append(time.perf_counter_ns() - t)
    a = np.asarray(ns, dtype=np.float64) / 1000.0
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def _median_us(f, n: int = 3000) -> float:  # type: ignore[no-untyped-def]
    import time

    samples = []
    for _ in range(n):
        t = time.perf_counter_ns()
        f()
        samples.append(time.perf_counter_ns() - t)
    return median(samples) / 1000.0


def components(bundle: str, threads: int) -> list[list[str]]:
    """The two parts the loop changed: the action sampler and the ORT call."""
    import random

    import numpy as np

    from a2d_edge.runtime.bundle import load_bundle
    from a2d_edge.runtime.loop import choose_action
    from a2d_edge.runtime.policy import OrtPolicy

    logits = np.array([[0.5, 2.0, -1.0, 0.0, 0.3, 0.1]], dtype=np.float32)
    gen, rng = np.random.default_rng(0), random.Random(0)

    def numpy_choice() -> None:
        z = logits[0].astype(np.float64) - logits[0].max()
        p = np.exp(z)
        gen.choice(len(p), p=p / p.sum())

    path = str(load_bundle(bundle).model_path("int8"))
    plain, bound = OrtPolicy(path, threads, bind=False), OrtPolicy(path, threads)
    frames = np.zeros((1, 4, 84, 84), dtype=np.uint8)
    rows = []
    for part, old_name, old, new_name, new in (
        ("action sampling", "numpy Generator.choice(p=...)", numpy_choice,
         "choose_action (inverse CDF)", lambda: choose_action(logits[0].tolist(), False, rng)),
        ("INT8 session call", "session.run", lambda: plain.logits(frames),
         "IOBinding, preallocated logits", lambda: bound.logits(frames)),
    ):  # fmt: skip
        a, b = [], []
        for _ in range(5):  # interleaved rounds
            a.append(_median_us(old, 600))
            b.append(_median_us(new, 600))
        rows.append([part, old_name, f"{median(a):.1f}", new_name, f"{median(b):.1f}"])
    return rows


if __name__ == "__main__":
    main()
