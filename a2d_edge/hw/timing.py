"""The timing protocol: warm-up, interleaved repeats, optional in-loop work and controller pacing;
parse to p50/p90."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from a2d_edge.hw.lut import Timing
from a2d_edge.runtime.pacing import Pacing, wait_for_tick

Runner = Callable[[], object]


def parse_samples(samples_ns: Sequence[int | float]) -> Timing:
    """Nanosecond samples -> median and 90th percentile in microseconds (pure)."""
    if len(samples_ns) == 0:
        raise ValueError("no timing samples")
    arr = np.asarray(samples_ns, dtype=np.float64) / 1000.0
    return Timing(float(np.percentile(arr, 50)), float(np.percentile(arr, 90)), int(arr.size))


def time_interleaved(
    runners: dict[str, Runner],
    repeats: int,
    warmup: int = 10,
    between: Runner | None = None,
    pacing: Pacing | None = None,
    burst: int = 1,
) -> dict[str, list[int]]:
    """Time every runner `repeats` times, round-robin (rotating the order each round) so that
    drift and background load spread over all of them. `between` runs before every timed call
    (in-loop mode: the control loop's own work, which evicts caches) and is not timed.

    With a `pacing` of hz > 0 (controller mode) every timed call starts on a tick of that
    rate, waited for as `a2d run` waits (`runtime.pacing.wait_for_tick`: sleep, optional spin
    and prewarm), after `between`: the call finds the core as the controller's inference does.
    That costs 1/hz of wall time per sample.

    `burst` > 1 (warm mode): each turn of a runner is `burst` calls back to back, the last one
    timed, so that the timed call finds its own weights and activations in the caches as a net
    called in a tight loop does, not those of the runner before it. On a 2-core EPYC (host B,
    fast-space archs, ORT fp32: benchmarks/warm_bursts.py) the timed call took 1.32x its
    back-to-back time with one call per turn, 1.13x with 2, 1.00x with 4 (all 9 archs within
    5%): `a2d-profile` times warm tables in bursts of 4."""
    if burst < 1:
        raise ValueError("burst must be >= 1")
    if burst > 1 and (between is not None or pacing is not None):
        raise ValueError("a burst warms the caches that in-loop / controller timing must not")
    names = list(runners)
    for name in names:
        for _ in range(warmup):
            runners[name]()
    period = pacing.period_ns if pacing is not None else 0
    spin = int(pacing.spin_ms * 1e6) if pacing is not None else 0
    samples: dict[str, list[int]] = {n: [] for n in names}
    t_start = time.perf_counter_ns() + period
    i = 0
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            if between is not None:
                between()
            run = runners[name]
            if period:
                tick = max(t_start + i * period, time.perf_counter_ns() + period // 2)
                t_start = tick - i * period  # a late call moves the schedule, as `late` does
                wait_for_tick(tick, spin, run if pacing and pacing.prewarm else None)
                i += 1
            for _ in range(burst - 1):
                run()
            t0 = time.perf_counter_ns()
            run()
            samples[name].append(time.perf_counter_ns() - t0)
    return samples


def control_loop_work(env_id: str = "ALE/Pong-v5", seed: int = 0) -> Runner:
    """One step of the work a control loop does between inferences: an ALE env step with the
    full preprocessing (frame skip, max-pool, resize, stack) and a copy of the observation."""
    from a2d_edge.envs import AtariSettings, make_vec_env

    env = make_vec_env(env_id, 1, AtariSettings(), num_threads=1)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    n = int(env.single_action_space.n)

    def work() -> None:
        obs = env.step(rng.integers(0, n, 1).astype(np.int32))[0]
        np.ascontiguousarray(obs).copy()

    return work
