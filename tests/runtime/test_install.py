"""The plain install is the runtime: a fresh venv with `pip install a2d-edge` (no extra) runs
`a2d run` on a bundle the full install made, and has no torch.

Needs the package registry (the runtime's own dependencies are installed from it, as on a
device); about 15 s with pip's cache.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(ROOT)],
                         capture_output=True, text=True)  # fmt: skip
    assert pip.returncode == 0, pip.stderr[-3000:]
    return venv


def test_the_runtime_install_has_no_torch_and_runs_a_bundle(runtime_venv, bundle, tmp_path):
    py = str(runtime_venv / "bin" / "python")
    probe = subprocess.run([py, "-c", "import torch"], capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'torch'" in probe.stderr
    report = tmp_path / "run.json"
    run = subprocess.run([str(runtime_venv / "bin" / "a2d"), "run", str(bundle), "--max-steps",
                          "30", "--hz", "0", "--quiet", "--report", str(report)],
                         capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    r = json.loads(report.read_text())
    assert r["steps"] == 30 and "int8" in r["policy"] and r["device"]["slug"]
    embed = ("import numpy as np\nfrom a2d_edge.runtime import Agent\n"
             f"agent = Agent.load({str(bundle)!r})\n"
             "print(agent.act(np.zeros((210, 160, 3), np.uint8)))\n")  # fmt: skip
    act = subprocess.run([py, "-c", embed], capture_output=True, text=True, cwd=tmp_path)
    assert act.returncode == 0 and 0 <= int(act.stdout) < 6, act.stderr[-2000:]


@pytest.mark.parametrize("argv", [["train", "--steps", "10", "--out", "x"], ["eval", "zoo:pong"]])
def test_a_training_command_there_names_the_install_in_one_line(runtime_venv, tmp_path, argv):
    out = subprocess.run([str(runtime_venv / "bin" / "a2d"), *argv], capture_output=True,
                         text=True, cwd=tmp_path)  # fmt: skip
    err = out.stderr.strip()
    assert out.returncode == 2 and len(err.splitlines()) == 1, err[-2000:]
    assert "pip install 'a2d-edge[train]'" in err and "torch is not installed" in err
    assert not (tmp_path / "x").exists()
