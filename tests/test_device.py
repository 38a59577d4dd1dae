"""Device choice: CPU here; the CUDA paths run where a GPU is (marked gpu)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from a2d_edge.cli import main
from a2d_edge.errors import A2DError
from a2d_edge.sources.checkpoint import load_checkpoint
from a2d_edge.utils.accel import autocast, resolve_device, rng_state, set_rng_state, to_device

no_cuda = not torch.cuda.is_available()


def test_auto_resolves_to_the_gpu_when_there_is_one_and_cpu_is_always_the_cpu() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cpu" if no_cuda else "cuda"
    assert resolve_device("auto").type == expected


@pytest.mark.parametrize("spec", ["tpu", "cuda:x", "metal"])
def test_unknown_devices_are_refused(spec: str) -> None:
    with pytest.raises(A2DError):
        resolve_device(spec)


@pytest.mark.skipif(not no_cuda, reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_one_line_and_writes_nothing(
    tmp_path: Path, tiny_train_args, capsys
) -> None:  # type: ignore[no-untyped-def]
    run = tmp_path / "run"
    assert main(tiny_train_args(run, extra=["--device", "cuda"])) == 2
    err = capsys.readouterr().err.strip()
    assert "no CUDA GPU" in err and len(err.splitlines()) == 1
    assert not run.exists()


def test_cpu_helpers_are_identities() -> None:
    x = torch.arange(6, dtype=torch.uint8)
    assert to_device(x, torch.device("cpu")) is x
    lin = torch.nn.Linear(4, 4)
    x = torch.rand(2, 4)
    with autocast(torch.device("cpu"), enabled=False):
        assert lin(x).dtype == torch.float32  # disabled: a matmul stays fp32
    with autocast(torch.device("cpu"), enabled=True):
        assert lin(x).dtype == torch.bfloat16  # enabled: the same matmul runs in bf16
    state = rng_state(torch.device("cpu"))
    a = torch.rand(3)
    set_rng_state(state, torch.device("cpu"))
    assert torch.equal(torch.rand(3), a)


@pytest.mark.gpu
@pytest.mark.skipif(no_cuda, reason="needs a CUDA GPU")
def test_train_on_cuda_checkpoints_cpu_tensors_and_resumes(tmp_path: Path, tiny_train_args) -> None:  # type: ignore[no-untyped-def]
    run = tmp_path / "run"
    assert main(tiny_train_args(run, steps=160, extra=["--device", "cuda"])) == 0
    ckpt = load_checkpoint(run / "agent.pt")
    assert all(v.device.type == "cpu" for v in ckpt["model"].values())
    assert "cuda" in ckpt["rng"]
    # a run made on the GPU continues on the CPU (the device may change on resume)
    assert main(["train", "--resume", str(run), "--device", "cpu", "--no-progress"]) == 0


@pytest.mark.gpu
@pytest.mark.skipif(no_cuda, reason="needs a CUDA GPU")
def test_search_on_cuda_runs_and_derives(tmp_path: Path) -> None:
    out = tmp_path / "s"
    argv = [
        "search-rl", "--env", "ALE/Pong-v5", "--preset", "edge", "--mode", "hard",
        "--num-envs", "4", "--steps", "160", "--eval-every", "160", "--eval-episodes", "1",
        "--checkpoint-every", "80", "--no-progress", "--device", "cuda", "--out", str(out),
    ]  # fmt: skip
    assert main(argv) == 0
    assert (out / "arch.json").exists() and (out / "search.json").exists()
