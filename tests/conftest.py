import os

import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("PYTHONHASHSEED", "0")


@pytest.fixture(scope="session")
def missing_feature() -> str:
    """A kernel-relevant ISA feature this host lacks, for tests that fake another host with one
    feature more: which one depends on the host (an AMX Xeon has amx_int8, an ARM board avx2)."""
    from a2d_edge.utils.fingerprint import ARM_FEATURES, X86_FEATURES, this_host

    have = set(this_host().isa)
    return next(f for f in (*X86_FEATURES, *ARM_FEATURES) if f not in have)


@pytest.fixture
def tiny_train_args(tmp_path):
    """Flags of a training run small enough for the test suite (a few hundred steps)."""

    def make(out, steps=320, extra=()):
        return [
            "train",
            "--env",
            "ALE/Pong-v5",
            "--arch",
            "nature",
            "--num-envs",
            "4",
            "--steps",
            str(steps),
            "--out",
            str(out),
            "--eval-every",
            "0",
            "--checkpoint-every",
            "80",
            "--log-every",
            "40",
            "--no-progress",
            *extra,
        ]

    return make


@pytest.fixture(scope="session")
def tiny_agent_ckpt(tmp_path_factory):
    """A real (briefly trained) Pong agent checkpoint, shared by the export/runtime tests."""
    from a2d_edge.cli import main

    run = tmp_path_factory.mktemp("agent") / "run"
    argv = ["train", "--env", "ALE/Pong-v5", "--arch", "nature", "--num-envs", "4",
            "--steps", "200", "--out", str(run), "--eval-every", "0", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    return run / "agent.pt"


@pytest.fixture
def kill_when():
    return _kill_when


def _kill_when(argv, ready, timeout=120.0):
    """Run `python -m a2d_edge argv...`, SIGKILL it as soon as `ready()` is true (or at the
    timeout): the crash the resume tests recover from."""
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "a2d_edge", *argv],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + timeout
        while time.time() < deadline and not ready():
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
