"""Where the arm64 set runs: aarch64, ARM kernels, the runtime install without torch, and an
emulator that `a2d-profile` sees through by itself."""

from __future__ import annotations

import importlib.util
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.arm64


def test_this_is_aarch64_with_a_dot_product_core():
    from a2d_edge.utils.fingerprint import int8_target, this_host

    host = this_host()
    assert platform.machine() == "aarch64" and host.machine == "aarch64"
    assert int8_target(host) == "arm64" and "asimddp" in host.isa, host.to_dict()


def test_the_runtime_install_has_no_torch_and_is_not_the_source_tree():
    import a2d_edge

    assert importlib.util.find_spec("torch") is None
    assert importlib.util.find_spec("onnxruntime") is not None
    assert "/tests/" not in a2d_edge.__file__ and "/opt/a2d/" in a2d_edge.__file__


def test_a_training_command_names_the_missing_install_in_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "a2d_edge", "eval", "zoo:pong"],
                         capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    err = out.stderr.strip()
    assert out.returncode == 2 and len(err.splitlines()) == 1, err[-2000:]
    assert "pip install 'a2d-edge[train]'" in err


def test_a2d_profile_sees_the_emulator_without_being_told(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "A2D_EMULATED"}
    table = tmp_path / "table.json"
    out = subprocess.run([sys.executable, "-m", "a2d_edge.hw.cli", "--preset", "tiny", "--out",
                          str(table), "--quiet"], capture_output=True, text=True, env=env,
                         cwd=tmp_path)  # fmt: skip
    err = out.stderr.strip()
    assert out.returncode == 2 and len(err.splitlines()) == 1, err[-2000:]
    assert "aarch64 is emulated" in err and "qemu-" in err and not table.exists()
