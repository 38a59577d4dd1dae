"""`a2d run`: the agent as a fixed-rate controller on the device (torch-free).

Each control period k starts at tick_k = t0 + k / hz. The loop waits for the tick, takes the
current observation, runs inference and applies the action. The action is due within the
period (`deadline`, default the whole period). An inference that finishes after its deadline
is a deadline miss, handled by the overrun policy:

- ``repeat``: the late action is dropped and the previous action is applied (the actuator never
  waits on the policy);
- ``late``: the late action is applied anyway, and the schedule continues from the next tick.

Measured per step (perf_counter_ns): inference latency (the session call alone), loop latency
(observation in -> action applied, including preprocessing and the env step), and start jitter
(actual minus scheduled start of the period). `--hz 0` runs free, as fast as it can.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from a2d_edge.config import field as setting
from a2d_edge.envs import AtariSettings, EpisodeTracker, make_vec_env, resolve_game
from a2d_edge.errors import A2DError
from a2d_edge.runtime.bundle import Bundle, int8_host_warning, load_bundle
from a2d_edge.runtime.pacing import Pacing, wait_for_tick
from a2d_edge.runtime.policy import Policy, PolicySpec, load_policy, model_key
from a2d_edge.runtime.realtime import RealtimeSettings
from a2d_edge.utils.device import describe_host

OVERRUN = ("repeat", "late")


@dataclass(frozen=True)
class RunSettings:
    env_id: str | None = setting(None, "env id; none: the bundle's game", cli="env", metavar="ENV")
    episodes: int = setting(1, "episodes to play", low=1)
    hz: float = setting(15.0, "control rate; 0 runs free", low=0)
    deadline_ms: float = setting(0.0, "the action's deadline in a period (0: the whole period)",
                                 low=0)  # fmt: skip
    overrun: str = setting(
        "repeat",
        "on a missed deadline: repeat the last action, or apply the late one",
        choices=OVERRUN,
    )
    greedy: bool = setting(False, "argmax actions instead of sampling")
    seed: int = setting(0, "seed of the env and of the action sampling", low=0)
    max_steps: int = setting(0, "stop after this many steps (0: when the episodes end)", low=0)
    status: bool = setting(True, "live status line", flag=False)
    record: str = setting(
        "", "write a video of the game's screen (.gif or .mp4) here", metavar="PATH"
    )
    spin_ms: float = setting(
        0.0,
        "busy-wait the last SPIN ms before each tick instead of sleeping (a core woken from "
        "sleep runs the next inference slower; costs that much CPU per period)",
        low=0,
        metavar="SPIN",
    )
    prewarm: bool = setting(
        False,
        "run one discarded inference at the start of the spin window (set --spin-ms above the "
        "inference time) so the timed one finds warm caches",
    )
    realtime: RealtimeSettings = setting(  # noqa: RUF009 (frozen: one shared default is safe)
        RealtimeSettings(), "pinning, FIFO, mlock", flag=False
    )

    @property
    def pacing(self) -> Pacing:
        return Pacing(self.hz, self.spin_ms, self.prewarm)


@dataclass
class Stats:
    inference_ns: list[int] = field(default_factory=list)
    loop_ns: list[int] = field(default_factory=list)
    env_ns: list[int] = field(default_factory=list)
    jitter_ns: list[int] = field(default_factory=list)
    misses: int = 0
    repeated: int = 0  # late actions replaced by the previous one
    steps: int = 0
    scores: list[float] = field(default_factory=list)


def percentiles_us(ns: list[int]) -> dict[str, float]:
    if not ns:
        return {}
    a = np.asarray(ns, dtype=np.float64) / 1000.0
    return {
        "p50": float(np.percentile(a, 50)),
        "p90": float(np.percentile(a, 90)),
        "p99": float(np.percentile(a, 99)),
        "max": float(a.max()),
        "mean": float(a.mean()),
    }


def describe_device() -> dict[str, Any]:
    jetson = Path("/etc/nv_tegra_release")
    return {**describe_host(), "jetson": jetson.read_text().strip() if jetson.is_file() else None}


def check_game(bundle: Bundle, env_id: str) -> None:
    if resolve_game(env_id) != resolve_game(bundle.env_id):
        raise A2DError(
            f"bundle {bundle.root} plays {bundle.env_id}, not {env_id}: an agent only runs the "
            "game it was trained on"
        )


def _settings(bundle: Bundle) -> AtariSettings:
    return AtariSettings.from_dict(bundle.manifest["preprocessing"])


def run_agent(
    bundle_dir: str | Path,
    settings: RunSettings,
    spec: PolicySpec,
    report_path: str | Path | None = None,
    policy: Policy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    prediction: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the control loop; returns (and writes) the report, also after Ctrl-C.
    `prediction`: a latency table's prediction for this agent (`a2d run --lut`), reported
    beside the measured latency."""
    bundle = load_bundle(bundle_dir)
    env_id = settings.env_id or bundle.env_id
    check_game(bundle, env_id)
    if settings.overrun not in OVERRUN:
        raise A2DError(f"overrun policy must be one of {OVERRUN}")
    settings.pacing.check()
    stats = Stats()
    frames: list[np.ndarray] = []
    interrupted = False
    what = "given policy"
    warnings = []
    if policy is None and (warning := int8_host_warning(bundle, model_key(bundle, spec))):
        warnings.append(warning)
        print(f"a2d run: warning: {warning}", file=sys.stderr)
    with settings.realtime.apply():  # checks first; the env's and session's threads inherit it
        if policy is None:
            policy, what = load_policy(bundle, spec)
        env = make_vec_env(env_id, 1, _settings(bundle))
        # the recording shows the game's RGB screen: a second env, same seed, same actions
        viewer = (
            make_vec_env(env_id, 1, _settings(bundle), screen=True) if settings.record else None
        )
        try:
            _loop(env, policy, settings, stats, frames, sleep, viewer)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            env.close()
            if viewer is not None:
                viewer.close()
    report = _report(bundle, env_id, settings, spec, what, stats, interrupted)
    report["warnings"] = warnings
    if prediction is not None:
        report["lut"] = judge_prediction(prediction, report["latency_us"]["inference"])
    if settings.record and frames:
        report["recording"] = write_recording(settings.record, frames, settings.hz or 15.0)
    if report_path:
        from a2d_edge.utils.io import write_json

        write_json(report_path, report)
    return report


def _loop(env, policy: Policy, s: RunSettings, stats: Stats, frames: list[np.ndarray],  # type: ignore[no-untyped-def]
          sleep: Callable[[float], None], viewer=None) -> None:  # fmt: skip
    rng = random.Random(s.seed)
    act = np.zeros(1, dtype=np.int32)  # the env's action buffer, reused every step
    obs, info = env.reset(seed=s.seed)
    if viewer is not None:
        frames.append(viewer.reset(seed=s.seed)[0][0, -1].copy())
    tracker = EpisodeTracker(1)
    tracker.reset(info["episode_frame_number"])
    period_ns = int(1e9 / s.hz) if s.hz > 0 else 0
    deadline_ns = int(s.deadline_ms * 1e6) if s.deadline_ms > 0 else period_ns
    spin_ns = int(s.spin_ms * 1e6)
    last_action = 0
    t0 = time.perf_counter_ns()
    last_status = t0
    while len(stats.scores) < s.episodes and not (s.max_steps and stats.steps >= s.max_steps):
        tick = t0 + stats.steps * period_ns
        if period_ns:
            prewarm = (lambda o=obs: policy.logits(o)) if s.prewarm else None
            now = wait_for_tick(tick, spin_ns, prewarm, sleep)
        else:
            now = time.perf_counter_ns()
        start = now
        stats.jitter_ns.append(start - tick if period_ns else 0)
        t_inf = time.perf_counter_ns()
        logits = policy.logits(obs)
        t_done = time.perf_counter_ns()
        action = choose_action(logits[0].tolist(), s.greedy, rng)
        missed = bool(deadline_ns) and (t_done - tick) > deadline_ns
        if missed:
            stats.misses += 1
            if s.overrun == "repeat":
                action = last_action
                stats.repeated += 1
        t_env = time.perf_counter_ns()
        act[0] = action
        obs, reward, term, trunc, info = env.step(act)
        t_applied = time.perf_counter_ns()
        stats.env_ns.append(t_applied - t_env)
        stats.inference_ns.append(t_done - t_inf)
        stats.loop_ns.append(t_applied - start)
        last_action = action
        stats.steps += 1
        if missed and s.overrun == "late" and period_ns:  # re-anchor: the next tick after now
            behind = (time.perf_counter_ns() - t0) // period_ns + 1
            t0 -= (behind - stats.steps) * period_ns
        for _, score, _ in tracker.update(reward.astype(np.float64), term | trunc,
                                          info["episode_frame_number"]):  # fmt: skip
            stats.scores.append(score)
        if viewer is not None:  # outside the timed parts: the step above is already applied
            frames.append(viewer.step(act)[0][0, -1].copy())
        if s.status and t_applied - last_status > 250_000_000:
            last_status = t_applied
            _status(stats, tracker)
    if s.status:
        _status(stats, tracker)
        print(file=sys.stderr)


def choose_action(logits: list[float], greedy: bool, rng: random.Random) -> int:
    """argmax, or a sample from softmax(logits) by inverse CDF.

    Plain Python on a handful of floats: ~1 us, where numpy's `Generator.choice(p=...)` cost
    ~20 us per call (per-call overhead dominates at 6 actions)."""
    top = max(logits)
    if greedy:
        return logits.index(top)
    weights = [math.exp(v - top) for v in logits]
    u = rng.random() * math.fsum(weights)
    acc = 0.0
    for i, w in enumerate(weights):
        acc += w
        if u < acc:
            return i
    return len(weights) - 1


def _status(stats: Stats, tracker: EpisodeTracker) -> None:
    inf = percentiles_us(stats.inference_ns[-2000:])
    loop = percentiles_us(stats.loop_ns[-2000:])
    print(
        f"\rstep {stats.steps:>7} | episode {len(stats.scores) + 1} score "
        f"{tracker.returns[0]:+.0f} | inference p50 {inf.get('p50', 0):7.1f} us p99 "
        f"{inf.get('p99', 0):7.1f} us | loop p50 {loop.get('p50', 0):7.1f} us | misses "
        f"{stats.misses}",
        end="",
        file=sys.stderr,
        flush=True,
    )


def _report(bundle: Bundle, env_id: str, s: RunSettings, spec: PolicySpec, what: str,
            stats: Stats, interrupted: bool) -> dict[str, Any]:  # fmt: skip
    inference = percentiles_us(stats.inference_ns)
    parts = zip(stats.loop_ns, stats.inference_ns, stats.env_ns, strict=True)
    overhead = [loop - inf - env for loop, inf, env in parts]
    return {
        "schema": "a2d.run/1",
        "bundle": str(bundle.root),
        "env_id": env_id,
        "policy": what,
        "backend": spec.backend,
        "threads": spec.threads,
        "hz": s.hz,
        "deadline_ms": (s.deadline_ms or (1000.0 / s.hz if s.hz else None)),
        "overrun_policy": s.overrun,
        "spin_ms": s.spin_ms,
        "prewarm": s.prewarm,
        "realtime": s.realtime.describe(),
        "steps": stats.steps,
        "interrupted": interrupted,
        "latency_us": {
            "inference": inference,
            "loop": percentiles_us(stats.loop_ns),
            "env_step": percentiles_us(stats.env_ns),
            "overhead": percentiles_us(overhead),
            "start_jitter": percentiles_us(stats.jitter_ns),
        },
        "p50": inference.get("p50"),
        "p99": inference.get("p99"),
        "misses": stats.misses,
        "repeated_actions": stats.repeated,
        "miss_rate": stats.misses / stats.steps if stats.steps else 0.0,
        "episodes": len(stats.scores),
        "scores": stats.scores,
        "score_mean": float(np.mean(stats.scores)) if stats.scores else None,
        "predicted_latency_ms": bundle.manifest.get("predicted_latency_ms"),
        "device": describe_device(),
    }


def judge_prediction(prediction: dict[str, Any], inference_us: dict[str, float]) -> dict[str, Any]:
    """The table's prediction beside the measured inference p50 / p99 (pure)."""
    predicted_us = float(prediction["predicted_ms"]) * 1000.0
    p50, p99 = inference_us.get("p50"), inference_us.get("p99")
    return {
        **prediction,
        "measured_p50_ms": None if p50 is None else p50 / 1000.0,
        "measured_p99_ms": None if p99 is None else p99 / 1000.0,
        "p50_over_predicted": None if p50 is None else p50 / predicted_us,
    }


def write_recording(path: str, frames: list[np.ndarray], fps: float) -> str:
    """The game as a person sees it (the emulator's RGB screen, 2x; grayscale frames 3x) as a
    GIF or, with imageio-ffmpeg installed, an MP4."""
    k = 2 if frames[0].ndim == 3 else 3
    block = np.ones((k, k, 1) if frames[0].ndim == 3 else (k, k), dtype=np.uint8)
    scaled = [np.kron(f, block) for f in frames]
    if path.endswith(".gif"):
        from PIL import Image

        images = [Image.fromarray(f) for f in scaled[::2]]
        images[0].save(path, save_all=True, append_images=images[1:],
                       duration=int(2000 / fps), loop=0)  # fmt: skip
        return path
    if path.endswith(".mp4"):
        try:
            import imageio.v2 as imageio
        except ImportError:
            raise A2DError("--record .mp4 needs imageio[ffmpeg]; .gif works without it") from None
        imageio.mimwrite(path, scaled, fps=fps)  # type: ignore[arg-type]
        return path
    raise A2DError("--record takes a .gif or .mp4 path")


def summary(report: dict[str, Any]) -> str:
    inf, loop = report["latency_us"]["inference"], report["latency_us"]["loop"]
    text = (
        f"{report['steps']} steps, {report['episodes']} episode(s), scores {report['scores']}; "
        f"inference p50 {inf.get('p50', 0):.1f} us p99 {inf.get('p99', 0):.1f} us; loop p50 "
        f"{loop.get('p50', 0):.1f} us; deadline misses {report['misses']} "
        f"({report['overrun_policy']})"
    )
    lut = report.get("lut")
    if lut and lut.get("p50_over_predicted") is not None:
        text += (
            f"\ntable {lut['table']} ({lut['mode']}) predicts {1000 * lut['predicted_ms']:.1f} "
            f"us; measured p50 {1000 * lut['measured_p50_ms']:.1f} us = "
            f"{lut['p50_over_predicted']:.2f}x the prediction, p99 "
            f"{1000 * lut['measured_p99_ms']:.1f} us"
        )
    return text


__all__ = ["RunSettings", "run_agent", "summary"]
