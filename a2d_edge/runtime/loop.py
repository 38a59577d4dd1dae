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

Inference goes through `runtime.Agent` (its `logits` on the env's stack, its `choose`): the
loop is one user of the embedding API. `--compare OTHER` times a second bundle in the same
sitting: the two alternate in blocks of steps on one schedule, each in its own env, and the
report adds both one's figures and their ratios (`runtime.compare`).
"""

from __future__ import annotations

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
from a2d_edge.runtime.agent import Agent, choose_action
from a2d_edge.runtime.bundle import Bundle, load_bundle
from a2d_edge.runtime.compare import comparison, comparison_table, pacing_words
from a2d_edge.runtime.pacing import Pacing, wait_for_tick
from a2d_edge.runtime.policy import Policy, PolicySpec
from a2d_edge.runtime.realtime import RealtimeSettings
from a2d_edge.runtime.recording import write_recording
from a2d_edge.utils.device import describe_host
from a2d_edge.utils.emulation import emulated

OVERRUN = ("repeat", "late")
COMPARE_BLOCK = 50  # steps of one bundle before the other's turn


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
    compare: str = setting(
        "",
        "time this second bundle (e.g. the teacher's) in the same sitting, alternating blocks "
        "of steps with the first, and report both and their ratios (the run is --max-steps "
        "steps of each, whatever --episodes)",
        metavar="BUNDLE",
    )
    compare_block: int = setting(
        COMPARE_BLOCK, "steps of one bundle before the other's turn (--compare)", low=1
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
    `policy`: run this instead of the bundle's model (tests: a slow or probing backend).
    `prediction`: a latency table's prediction for this agent (`a2d run --lut`), reported
    beside the measured latency. With `settings.compare` the report adds the other bundle's
    report (`compared`) and the comparison (`comparison`)."""
    bundle = load_bundle(bundle_dir)
    env_id = settings.env_id or bundle.env_id
    check_game(bundle, env_id)
    other = load_bundle(settings.compare) if settings.compare else None
    _check_settings(settings, other, env_id)
    interrupted = False
    with settings.realtime.apply():  # checks first; the env's and session's threads inherit it
        players = [_player(bundle, env_id, settings, spec, policy)]
        if other is not None:
            players.append(_player(other, env_id, settings, spec, None))
        try:
            _loop(players, settings, sleep)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            for player in players:
                player.close()
    reports = [_report(p, env_id, settings, spec, interrupted) for p in players]
    report = reports[0]
    if prediction is not None:
        report["lut"] = judge_prediction(prediction, report["latency_us"]["inference"])
    if settings.record and players[0].frames:
        report["recording"] = write_recording(settings.record, players[0].frames,
                                              settings.hz or 15.0)  # fmt: skip
    if other is not None:
        names = (_name(bundle), _name(other))
        if names[0] == names[1]:
            names = (str(bundle.root), str(other.root))
        report["compared"] = {k: v for k, v in reports[1].items() if k != "device"}
        report["comparison"] = comparison(report, reports[1], names, settings.compare_block)
    if report_path:
        from a2d_edge.utils.io import write_json

        write_json(report_path, report)
    return report


def _check_settings(s: RunSettings, other: Bundle | None, env_id: str) -> None:
    if s.overrun not in OVERRUN:
        raise A2DError(f"overrun policy must be one of {OVERRUN}")
    s.pacing.check()
    if other is None:
        if s.compare_block != COMPARE_BLOCK:
            raise A2DError("--compare-block applies to a comparison only: add --compare BUNDLE")
        return
    check_game(other, env_id)
    if not s.max_steps:
        raise A2DError("--compare times both bundles for a number of steps: give --max-steps "
                       "(the steps of each)")  # fmt: skip
    if s.record:
        raise A2DError("--record shows one agent: run it without --compare")


def _name(bundle: Bundle) -> str:
    return bundle.root.resolve().name


@dataclass
class Player:
    """One bundle in the loop: its agent, its own env (its own game) and its figures."""

    agent: Agent
    env: Any
    viewer: Any = None  # the recording's env: same seed and actions, the game's RGB screen
    stats: Stats = field(default_factory=Stats)
    tracker: EpisodeTracker = field(default_factory=lambda: EpisodeTracker(1))
    frames: list[np.ndarray] = field(default_factory=list)
    action: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int32))
    obs: Any = None
    last_action: int = 0

    def start(self, seed: int) -> None:
        self.obs, info = self.env.reset(seed=seed)
        self.tracker.reset(info["episode_frame_number"])
        if self.viewer is not None:
            self.frames.append(self.viewer.reset(seed=seed)[0][0, -1].copy())

    def close(self) -> None:
        self.env.close()
        if self.viewer is not None:
            self.viewer.close()


def _player(
    bundle: Bundle, env_id: str, s: RunSettings, spec: PolicySpec, policy: Policy | None
) -> Player:
    if policy is None:
        agent = Agent.from_spec(bundle, spec, greedy=s.greedy, seed=s.seed)
        for warning in agent.warnings:
            print(f"a2d run: warning: {warning}", file=sys.stderr)
    else:
        agent = Agent(bundle, policy, greedy=s.greedy, seed=s.seed)
    if why := emulated():  # said once per bundle, and kept in its report
        warning = (f"this machine is emulated ({why}): the latencies below are the emulator's, "
                   "not the device's")  # fmt: skip
        agent.warnings = (*agent.warnings, warning)
        print(f"a2d run: warning: {warning}", file=sys.stderr)
    env = make_vec_env(env_id, 1, _settings(bundle))
    viewer = make_vec_env(env_id, 1, _settings(bundle), screen=True) if s.record else None
    return Player(agent, env, viewer)


@dataclass
class Schedule:
    """The ticks of a fixed-rate loop: tick k at t0 + k / hz (no ticks when free-running)."""

    period_ns: int
    t0: int = field(default_factory=time.perf_counter_ns)
    k: int = 0
    shown: int = 0  # when the last status line was printed

    @property
    def tick(self) -> int:
        return self.t0 + self.k * self.period_ns

    def reanchor(self) -> None:
        """After a late action applied anyway: the next tick is the first one after now."""
        behind = (time.perf_counter_ns() - self.t0) // self.period_ns + 1
        self.t0 -= (behind - self.k) * self.period_ns


def _loop(players: list[Player], s: RunSettings, sleep: Callable[[float], None]) -> None:
    """One bundle: until its episodes (or --max-steps) end. Compared: the bundles in turn,
    --compare-block steps each, until each has played --max-steps; each turn starts with one
    untimed inference (the other model's turn left the caches cold, which a loop that runs
    one model never sees)."""
    for player in players:
        player.start(s.seed)
    clock = Schedule(s.pacing.period_ns)
    if len(players) == 1:
        one = players[0]
        while len(one.stats.scores) < s.episodes and not (
            s.max_steps and one.stats.steps >= s.max_steps
        ):
            _step(one, s, clock, sleep)
            _show(one, None, s, clock)
    while len(players) > 1 and any(p.stats.steps < s.max_steps for p in players):
        for label, player in zip("AB", players, strict=False):
            end = min(s.max_steps, player.stats.steps + s.compare_block)
            if player.stats.steps < end:
                player.agent.logits(player.obs)
            while player.stats.steps < end:
                _step(player, s, clock, sleep)
                _show(player, label, s, clock)
    if s.status:
        _status(players[0], "A" if len(players) > 1 else None)
        print(file=sys.stderr)


def _show(p: Player, label: str | None, s: RunSettings, clock: Schedule) -> None:
    """The live status line, at most four times a second."""
    now = time.perf_counter_ns()
    if s.status and now - clock.shown > 250_000_000:
        clock.shown = now
        _status(p, label)


def _step(p: Player, s: RunSettings, clock: Schedule, sleep: Callable[[float], None]) -> None:
    """One control period of player p: wait for the tick, infer, act, step its env."""
    stats, agent, period_ns = p.stats, p.agent, clock.period_ns
    deadline_ns = int(s.deadline_ms * 1e6) if s.deadline_ms > 0 else period_ns
    tick = clock.tick
    if period_ns:
        prewarm = (lambda o=p.obs: agent.logits(o)) if s.prewarm else None
        start = wait_for_tick(tick, int(s.spin_ms * 1e6), prewarm, sleep)
    else:
        start = time.perf_counter_ns()
    stats.jitter_ns.append(start - tick if period_ns else 0)
    t_inf = time.perf_counter_ns()
    logits = agent.logits(p.obs)
    t_done = time.perf_counter_ns()
    action = agent.choose(logits)
    missed = bool(deadline_ns) and (t_done - tick) > deadline_ns
    if missed:
        stats.misses += 1
        if s.overrun == "repeat":
            action = p.last_action
            stats.repeated += 1
    t_env = time.perf_counter_ns()
    p.action[0] = action
    p.obs, reward, term, trunc, info = p.env.step(p.action)
    t_applied = time.perf_counter_ns()
    stats.env_ns.append(t_applied - t_env)
    stats.inference_ns.append(t_done - t_inf)
    stats.loop_ns.append(t_applied - start)
    p.last_action = action
    stats.steps += 1
    clock.k += 1
    if missed and s.overrun == "late" and period_ns:
        clock.reanchor()
    for _, score, _ in p.tracker.update(reward.astype(np.float64), term | trunc,
                                        info["episode_frame_number"]):  # fmt: skip
        stats.scores.append(score)
    if p.viewer is not None:  # outside the timed parts: the step above is already applied
        p.frames.append(p.viewer.step(p.action)[0][0, -1].copy())


def _status(p: Player, label: str | None) -> None:
    stats = p.stats
    inf = percentiles_us(stats.inference_ns[-2000:])
    loop = percentiles_us(stats.loop_ns[-2000:])
    who = "" if label is None else f"[{label}] "
    print(
        f"\r{who}step {stats.steps:>7} | episode {len(stats.scores) + 1} score "
        f"{p.tracker.returns[0]:+.0f} | inference p50 {inf.get('p50', 0):7.1f} us p99 "
        f"{inf.get('p99', 0):7.1f} us | loop p50 {loop.get('p50', 0):7.1f} us | misses "
        f"{stats.misses}",
        end="",
        file=sys.stderr,
        flush=True,
    )


def _report(p: Player, env_id: str, s: RunSettings, spec: PolicySpec,
            interrupted: bool) -> dict[str, Any]:  # fmt: skip
    bundle, stats = p.agent.bundle, p.stats
    inference = percentiles_us(stats.inference_ns)
    parts = zip(stats.loop_ns, stats.inference_ns, stats.env_ns, strict=True)
    overhead = [loop - inf - env for loop, inf, env in parts]
    return {
        "schema": "a2d.run/1",
        "bundle": str(bundle.root),
        "env_id": env_id,
        "policy": p.agent.description,
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
        "warnings": list(p.agent.warnings),
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
    comp = report.get("comparison")
    if comp:
        pacing = pacing_words(report["hz"], report["spin_ms"], report["prewarm"])
        text += (
            f"\ncompared in one sitting, {comp['block_steps']}-step blocks in turn "
            f"({comp['names'][1]}: scores {report['compared']['scores']}):\n"
            + comparison_table([(pacing, comp)])
        )
    return text


__all__ = ["RunSettings", "choose_action", "run_agent", "summary"]
