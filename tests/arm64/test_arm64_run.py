"""`a2d run` of the shipped agents' bundles (fp32 and the `--target arm64` INT8) on aarch64,
and the bundle's sha256 checks there."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from arm64_agents import AGENTS

pytestmark = pytest.mark.arm64
STEPS = 200


def a2d_run(bundle: Path, cwd: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "a2d_edge", "run", str(bundle), "--hz", "0", "--quiet", *flags]
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
@pytest.mark.parametrize("agent", AGENTS)
def test_a2d_run_plays_a_capped_episode(bundles, tmp_path, agent, precision):
    report = tmp_path / "run.json"
    run = a2d_run(bundles / agent, tmp_path, "--precision", precision, "--episodes", "1",
                  "--max-steps", str(STEPS), "--greedy", "--report", str(report))  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    r = json.loads(report.read_text())
    assert r["steps"] == STEPS and r["policy"].endswith(f"agent-{precision}.onnx"), r["policy"]
    assert r["device"]["machine"] == "aarch64" and r["device"]["slug"].endswith("-dot-fp16")
    # the INT8 model made for arm64 is at home here: no "verified for another ISA" warning,
    # but the latencies are an emulator's, and the report says so
    assert not [w for w in r["warnings"] if "int8" in w.lower()], r["warnings"]
    assert any("emulated" in w for w in r["warnings"]), r["warnings"]


def test_the_hashes_hold_on_arm64_and_a_tampered_model_is_refused(bundles, tmp_path):
    from a2d_edge.runtime.bundle import load_bundle, sha256

    for agent in AGENTS:
        bundle = load_bundle(bundles / agent)  # every file hashed here matches the x86 manifest
        assert {n: sha256(bundle.root / n) for n in bundle.manifest["files"]} == (
            bundle.manifest["files"]
        )
    copy = tmp_path / "pong"
    shutil.copytree(bundles / "pong", copy)
    model = copy / "agent-int8.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    run = a2d_run(copy, tmp_path, "--max-steps", "5")
    err = run.stderr.strip()
    assert run.returncode == 2 and len(err.splitlines()) == 1, err[-2000:]
    assert "agent-int8.onnx does not match its sha256 (tampered or corrupt)" in err
    (copy / "manifest.json").unlink()
    run = a2d_run(copy, tmp_path, "--max-steps", "5")
    assert run.returncode == 2 and "no manifest.json" in run.stderr.strip().splitlines()[-1]
