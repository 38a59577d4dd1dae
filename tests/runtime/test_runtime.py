import json
import subprocess
import sys
import time

import numpy as np
import pytest

from a2d_edge.cli import main
from a2d_edge.envs import make_vec_env
from a2d_edge.runtime.bundle import load_bundle
from a2d_edge.runtime.loop import RunSettings, _settings, run_agent
from a2d_edge.runtime.policy import PolicySpec


def test_runtime_imports_and_runs_without_torch(bundle, tmp_path):
    report = tmp_path / "run.json"
    code = (
        "import sys\n"
        "from a2d_edge.cli import main\n"
        f"rc = main(['run', {str(bundle)!r}, '--max-steps', '60', '--hz', '0', '--quiet',"
        f" '--report', {str(report)!r}])\n"
        "assert rc == 0, rc\n"
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith('torch.')]\n"
        "assert not bad, bad[:5]\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(report.read_text())
    assert r["steps"] == 60 and "int8" in r["policy"]


def test_observations_match_the_training_env_frame_for_frame(bundle):
    from a2d_edge.rl.config import TrainConfig
    from a2d_edge.rl.trainer import make_collector

    b = load_bundle(bundle)
    runtime_env = make_vec_env(b.env_id, 1, _settings(b))
    collector = make_collector(TrainConfig(num_envs=1, env_groups=1, seed=0), 0)
    train_env = collector.envs[0]
    try:
        obs_r, _ = runtime_env.reset(seed=0)
        obs_t, _ = train_env.reset(seed=0)
        rng = np.random.default_rng(0)
        for _ in range(300):
            assert np.array_equal(obs_r, obs_t)
            a = rng.integers(0, 6, 1).astype(np.int32)
            obs_r = runtime_env.step(a)[0]
            obs_t = train_env.step(a)[0]
    finally:
        runtime_env.close()
        collector.close()


def test_short_run_writes_a_complete_report(bundle, tmp_path):
    path = tmp_path / "r.json"
    settings = RunSettings(
        episodes=1, hz=0, max_steps=100, status=False, record=str(tmp_path / "v.gif")
    )
    run_agent(bundle, settings, PolicySpec(), path)
    r = json.loads(path.read_text())
    for key in ("p50", "p99", "misses", "scores", "device", "steps", "overrun_policy"):
        assert key in r
    assert set(r["latency_us"]["inference"]) >= {"p50", "p90", "p99", "max"}
    assert r["latency_us"]["loop"]["p50"] >= r["latency_us"]["inference"]["p50"]
    assert (tmp_path / "v.gif").stat().st_size > 1000
    from PIL import Image

    with Image.open(tmp_path / "v.gif") as gif:  # the game's RGB screen, 2x: what a person sees
        assert gif.size == (320, 420) and gif.convert("RGB").getextrema()[0] != (0, 0)


class SlowPolicy:
    """An artificially slow backend: 30 ms per inference."""

    def __init__(self, n_actions=6, seconds=0.03):
        self.n, self.s = n_actions, seconds

    def logits(self, frames):
        time.sleep(self.s)
        out = np.zeros((1, self.n), np.float32)
        out[0, 3] = 50.0  # always LEFT
        return out


@pytest.mark.parametrize("overrun", ["repeat", "late"])
def test_overruns_are_counted_and_handled(bundle, overrun):
    settings = RunSettings(hz=50, max_steps=8, overrun=overrun, status=False, greedy=True)
    r = run_agent(bundle, settings, PolicySpec(), policy=SlowPolicy())
    assert r["misses"] == 8 and r["miss_rate"] == 1.0
    if overrun == "repeat":
        assert r["repeated_actions"] == 8  # every late action replaced by the previous one
    else:
        assert r["repeated_actions"] == 0


def test_fixed_rate_keeps_the_schedule(bundle):
    """A 1 ms backend at 50 Hz: 19 ms of margin per period, so a miss needs a stall of the
    whole machine, not an unlucky inference on a shared host."""
    settings = RunSettings(hz=50, max_steps=20, status=False)
    t = time.perf_counter()
    r = run_agent(bundle, settings, PolicySpec(), policy=SlowPolicy(seconds=0.001))
    assert time.perf_counter() - t >= 19 / 50  # it waited for its ticks
    assert r["misses"] <= 1 and r["steps"] == 20
    assert r["latency_us"]["start_jitter"]["p50"] < 5_000  # each period starts on its tick


def test_ctrl_c_still_writes_the_report(bundle, tmp_path):
    class Interrupting(SlowPolicy):
        calls = 0

        def logits(self, frames):
            Interrupting.calls += 1
            if Interrupting.calls > 5:
                raise KeyboardInterrupt
            return super().logits(frames)

    path = tmp_path / "r.json"
    run_agent(bundle, RunSettings(hz=0, status=False), PolicySpec(), path,
              policy=Interrupting(seconds=0))  # fmt: skip
    r = json.loads(path.read_text())
    assert r["interrupted"] is True and r["steps"] == 5


def test_bad_bundles_and_other_games_are_refused(bundle, tmp_path, capsys):
    assert main(["run", str(bundle), "--env", "ALE/Breakout-v5", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "plays ALE/Pong-v5, not ALE/Breakout-v5" in err and len(err.splitlines()) == 1
    assert main(["run", str(tmp_path), "--quiet"]) == 2
    assert "not a bundle" in capsys.readouterr().err


def test_an_engine_built_on_the_device_can_be_registered(bundle, tmp_path):
    import shutil

    from a2d_edge.errors import A2DError
    from a2d_edge.runtime.bundle import register_model

    b = tmp_path / "b"
    shutil.copytree(bundle, b)
    (b / "agent-fp16.engine").write_bytes(b"engine bytes")
    registered = register_model(b, "agent-fp16.engine", "tensorrt-fp16")
    assert registered.manifest["models"]["tensorrt-fp16"] == "agent-fp16.engine"
    (b / "agent-fp16.engine").write_bytes(b"swapped")
    with pytest.raises(A2DError, match="sha256"):
        load_bundle(b)
    with pytest.raises(A2DError, match="not a file"):
        register_model(bundle, "../x", "k")


def test_sampler_follows_the_softmax_and_greedy_takes_the_argmax():
    import random

    from a2d_edge.runtime.loop import choose_action

    logits = [0.5, 2.0, -1.0, 0.0]
    p = np.exp(logits) / np.exp(logits).sum()
    rng = random.Random(3)
    n = 40_000
    counts = np.bincount([choose_action(logits, False, rng) for _ in range(n)], minlength=4)
    # each frequency within 4 binomial standard deviations
    assert np.all(np.abs(counts / n - p) < 4 * np.sqrt(p * (1 - p) / n))
    assert choose_action(logits, True, rng) == 1
    assert choose_action([0.0, -1e9, -1e9], False, rng) == 0  # underflowed weights never win
    a = [choose_action(logits, False, random.Random(7)) for _ in range(5)]
    assert a == [choose_action(logits, False, random.Random(7)) for _ in range(5)]


def test_io_binding_returns_what_run_returns(bundle):
    from a2d_edge.runtime.policy import OrtPolicy

    path = str(load_bundle(bundle).model_path("fp32"))
    plain, bound = OrtPolicy(path, bind=False), OrtPolicy(path)
    assert bound.binding is not None
    rng = np.random.default_rng(0)
    for batch in (1, 1, 3):
        frames = rng.integers(0, 256, (batch, 4, 84, 84), dtype=np.uint8)
        np.testing.assert_array_equal(bound.logits(frames), plain.logits(frames))


def test_spin_window_and_prewarm(bundle):
    class Counting(SlowPolicy):
        calls = 0

        def logits(self, frames):
            Counting.calls += 1
            return super().logits(frames)

    slept: list[float] = []

    def sleep(seconds):
        slept.append(seconds)
        time.sleep(seconds)

    settings = RunSettings(hz=20, max_steps=6, status=False, spin_ms=5.0, prewarm=True)
    r = run_agent(bundle, settings, PolicySpec(), policy=Counting(seconds=0), sleep=sleep)
    assert r["steps"] == 6 and r["spin_ms"] == 5.0 and r["prewarm"] is True
    assert Counting.calls == 6 + 5  # one discarded inference before every tick but the first
    assert slept and max(slept) <= 0.050 - 0.005 + 1e-3  # it woke 5 ms before each tick
    assert r["misses"] == 0  # 45 ms of margin per period: only a stalled machine misses


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--prewarm"], "--prewarm needs a --spin-ms window"),
        (["--spin-ms", "-1"], "'spin_ms' is -1.0; it must be >= 0"),
    ],
)
def test_prewarm_without_a_spin_window_is_refused(bundle, flags, message, capsys):
    assert main(["run", str(bundle), "--quiet", "--max-steps", "3", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_cpu_lists_parse_like_taskset():
    from a2d_edge.errors import A2DError
    from a2d_edge.runtime.realtime import parse_cpus

    assert parse_cpus("1") == {1}
    assert parse_cpus("0,2-3") == {0, 2, 3}
    assert parse_cpus(" 2 - 2 ") == {2}
    for bad in ("", "a", "3-1", "-1", "1,,2"):
        with pytest.raises(A2DError, match="--cpus"):
            parse_cpus(bad)


def test_realtime_settings_hold_during_the_loop_and_are_undone(bundle, tmp_path):
    import os

    from a2d_edge.runtime.realtime import RealtimeSettings

    cpu = max(os.sched_getaffinity(0))
    before = os.sched_getaffinity(0), os.sched_getscheduler(0)
    seen: list[tuple[set[int], int]] = []

    class Probe(SlowPolicy):
        def logits(self, frames):
            seen.append((os.sched_getaffinity(0), os.sched_getscheduler(0)))
            return super().logits(frames)

    privileged = os.geteuid() == 0
    rt = RealtimeSettings(frozenset({cpu}), 10 if privileged else 0, privileged)
    settings = RunSettings(hz=0, max_steps=5, status=False, realtime=rt)
    r = run_agent(bundle, settings, PolicySpec(), tmp_path / "r.json", policy=Probe(seconds=0))
    assert r["steps"] == 5
    assert r["realtime"] == {
        "cpus": [cpu],
        "rt_priority": 10 if privileged else None,
        "lock_memory": privileged,
    }
    want = os.SCHED_FIFO if privileged else before[1]
    assert seen and all(aff == {cpu} and pol == want for aff, pol in seen)
    assert (os.sched_getaffinity(0), os.sched_getscheduler(0)) == before


def test_a_refused_priority_is_one_line_and_undoes_the_pinning(monkeypatch):
    import os

    from a2d_edge.errors import A2DError
    from a2d_edge.runtime.realtime import RealtimeSettings

    def refuse(*_args):
        raise PermissionError(1, "Operation not permitted")

    before = os.sched_getaffinity(0)
    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    rt = RealtimeSettings(frozenset({min(before)}), 50, False)
    with pytest.raises(A2DError, match="CAP_SYS_NICE"), rt.apply():
        pass
    assert os.sched_getaffinity(0) == before


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--cpus", "4096"], "CPU 4096 is not available here"),
        (["--cpus", "x"], "not a CPU list"),
        (["--rt-priority", "100"], "'rt_priority' is 100; it must be >= 0 and <= 99"),
    ],
)
def test_bad_realtime_flags_are_refused_before_running(bundle, tmp_path, flags, message, capsys):
    report = tmp_path / "r.json"
    argv = ["run", str(bundle), "--quiet", "--max-steps", "3", "--report", str(report), *flags]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not report.exists()


def _with_int8_record(bundle, tmp_path, edit):
    """A copy of the bundle whose manifest's INT8 record is edited (and re-vouched for)."""
    import shutil

    from a2d_edge.runtime.bundle import write_manifest

    copy = tmp_path / "edited"
    shutil.copytree(bundle, copy)
    m = json.loads((copy / "manifest.json").read_text())
    edit(m["int8_graph"])
    m.pop("schema")
    m["files"] = list(m["files"])
    write_manifest(copy, m)
    return copy


@pytest.mark.parametrize("how", ["other-target", "missing-isa", "no-record"])
def test_an_int8_model_verified_on_another_isa_warns(
    bundle, tmp_path, how, capsys, missing_feature
):
    from a2d_edge.utils.fingerprint import int8_target, isa_words, this_host

    here = this_host()
    other = "x86-avx2" if int8_target(here) != "x86-avx2" else "x86-vnni"

    def edit(g):
        if how == "other-target":
            g["verified_on"]["target"] = other
        elif how == "missing-isa":
            g["verified_on"]["host"]["isa"] = [*here.isa, missing_feature]
            g["verified_on"]["host"]["slug"] = "elsewhere-2c-amx"
        else:
            del g["verified_on"]

    edited = _with_int8_record(bundle, tmp_path, edit)
    report = tmp_path / "r.json"
    argv = ["run", str(edited), "--max-steps", "5", "--hz", "0", "--quiet", "--report", str(report)]
    assert main(argv) == 0
    err = [ln for ln in capsys.readouterr().err.splitlines() if "warning" in ln]
    assert len(err) == 1
    lacks = f"lacks {isa_words([missing_feature])}"
    expected = {"other-target": f"verified for {other}", "missing-isa": lacks,
                "no-record": "records no instruction set"}[how]  # fmt: skip
    assert expected in err[0]
    assert json.loads(report.read_text())["warnings"] == [err[0].split("warning: ", 1)[1]]


def test_an_int8_model_verified_here_and_fp32_runs_do_not_warn(bundle, capsys):
    assert main(["run", str(bundle), "--max-steps", "3", "--hz", "0", "--quiet"]) == 0
    assert main(["run", str(bundle), "--max-steps", "3", "--hz", "0", "--quiet",
                 "--precision", "fp32"]) == 0  # fmt: skip
    assert "warning" not in capsys.readouterr().err
