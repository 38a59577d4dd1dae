"""What `runtime.Agent.act` costs beyond the inference: the numpy preprocessing of raw screens.

    python -m benchmarks.agent_act BUNDLE [--calls 500] [--rounds 5]

Times, per call at batch 1, on real screens of the bundle's game: the preprocessing of two RGB
screens (grey, max-pool, INTER_AREA, stack), of two grey screens (no colour conversion), the
inference alone (`agent.logits` on a stack) and the whole `agent.act` on RGB screens. Each
round times every part in turn (interleaved, so drift falls on all); the table gives the median
over rounds of each round's median and p99, and each part's share of `act`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from benchmarks.common import machine, median, table


def screens(env_id: str, n: int) -> list[np.ndarray]:
    """`n` RGB screens of a game played with random actions."""
    from a2d_edge.envs import AtariSettings, make_vec_env

    env = make_vec_env(env_id, 1, AtariSettings(), screen=True)
    rng = np.random.default_rng(0)
    out = [env.reset(seed=0)[0][0, -1].copy()]
    for _ in range(n - 1):
        action = rng.integers(0, env.single_action_space.n, 1).astype(np.int32)
        out.append(env.step(action)[0][0, -1].copy())
    env.close()
    return out


def timed(call: Callable[[int], object], calls: int) -> tuple[float, float]:
    """Median and p99 (us) of `calls` calls of `call(i)`."""
    ns = []
    for i in range(calls):
        t = time.perf_counter_ns()
        call(i)
        ns.append(time.perf_counter_ns() - t)
    a = np.asarray(ns, dtype=np.float64) / 1000.0
    return float(np.median(a)), float(np.percentile(a, 99))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("bundle")
    p.add_argument("--calls", type=int, default=500)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--precision", default="int8", choices=("int8", "fp32"))
    args = p.parse_args()
    from a2d_edge.runtime import Agent
    from a2d_edge.runtime.screen import grey

    agent = Agent.load(args.bundle, precision=args.precision)
    rgb = screens(agent.bundle.env_id, 64)
    grey_screens = [grey(s) for s in rgb]
    stack = agent.observe(rgb[1], rgb[0]).copy()
    k = len(rgb) - 1
    parts: dict[str, Callable[[int], object]] = {
        "preprocess 2 RGB screens": lambda i: agent.observe(rgb[i % k + 1], rgb[i % k]),
        "preprocess 2 grey screens": lambda i: agent.observe(
            grey_screens[i % k + 1], grey_screens[i % k]
        ),
        "inference (agent.logits)": lambda i: agent.logits(stack),
        "agent.act on RGB screens": lambda i: agent.act(rgb[i % k + 1], rgb[i % k]),
    }
    got: dict[str, list[tuple[float, float]]] = {name: [] for name in parts}
    for _ in range(args.rounds):
        for name, call in parts.items():
            got[name].append(timed(call, args.calls))
    act = median([m for m, _ in got["agent.act on RGB screens"]])
    rows = []
    for name, runs in got.items():
        p50, p99 = median([m for m, _ in runs]), median([q for _, q in runs])
        rows.append((name, f"{p50:.1f}", f"{p99:.1f}", f"{p50 / act:.2f}"))
    print(f"# {machine()}\n# {agent.description}, {args.rounds} rounds x {args.calls} calls")
    print(table(("part", "median us", "p99 us", "share of act"), rows))


if __name__ == "__main__":
    main()
