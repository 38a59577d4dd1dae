"""--precision auto: bf16 only where bf16 math is native; an emulated bf16 says what it costs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from a2d_edge.errors import A2DError
from a2d_edge.nets import build_agent, load_arch
from a2d_edge.utils.accel import choose_precision, resolve_precision
from a2d_edge.utils.fingerprint import fingerprint_from

DATA = Path(__file__).parent / "data"
AVX2 = ["avx2", "fma"]
AVX512_BF16 = ["avx2", "avx512f", "avx512_vnni", "avx512_bf16"]
AMX = ["avx512f", "amx_tile", "amx_bf16", "amx_int8"]


@pytest.mark.parametrize(
    ("requested", "device", "isa", "cuda_bf16", "expected"),
    [
        ("auto", "cpu", AVX2, False, ("fp32", False)),
        ("auto", "cpu", AVX512_BF16, False, ("bf16", False)),
        ("auto", "cpu", AMX, False, ("bf16", False)),
        ("auto", "cpu", ["asimd", "asimddp", "bf16"], False, ("bf16", False)),  # ARM BF16
        ("auto", "cpu", ["asimd", "asimddp"], False, ("fp32", False)),  # a Jetson Orin's cores
        ("auto", "cuda", AVX2, True, ("bf16", False)),  # the GPU decides, not the host CPU
        ("auto", "cuda", AVX512_BF16, False, ("fp32", False)),  # a GPU without bf16
        ("bf16", "cpu", AVX2, False, ("bf16", True)),  # asked for, and emulated
        ("bf16", "cpu", AVX512_BF16, False, ("bf16", False)),
        ("fp32", "cpu", AVX512_BF16, False, ("fp32", False)),
    ],
)
def test_choose_precision(requested, device, isa, cuda_bf16, expected) -> None:
    assert choose_precision(requested, device, isa, cuda_bf16) == expected


def test_an_unknown_precision_is_refused() -> None:
    with pytest.raises(A2DError, match="precision must be one of"):
        choose_precision("fp8", "cpu", AVX2)


def _pretend(monkeypatch, sample: str) -> None:
    fp = fingerprint_from((DATA / sample).read_text(), machine="x86_64", cores=2)
    monkeypatch.setattr("a2d_edge.utils.fingerprint.this_host", lambda: fp)


def test_auto_says_what_it_chose_per_host(monkeypatch, capsys) -> None:
    model = build_agent(load_arch("nature"), 6)
    cpu = torch.device("cpu")
    _pretend(monkeypatch, "cpuinfo-epyc-avx2.txt")
    assert resolve_precision("auto", cpu, model, (4, 84, 84)) == "fp32"
    assert "auto -> fp32" in capsys.readouterr().out
    _pretend(monkeypatch, "cpuinfo-epyc-avx512.txt")
    assert resolve_precision("auto", cpu, model, (4, 84, 84)) == "bf16"
    assert "auto -> bf16" in capsys.readouterr().out


def test_an_emulated_bf16_warns_with_its_measured_cost(monkeypatch, capsys) -> None:
    model = build_agent(load_arch("nature"), 6)
    _pretend(monkeypatch, "cpuinfo-epyc-avx2.txt")
    assert resolve_precision("bf16", torch.device("cpu"), model, (4, 84, 84)) == "bf16"
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "runs emulated" in err and "x as long as in fp32" in err
    _pretend(monkeypatch, "cpuinfo-epyc-avx512.txt")
    assert resolve_precision("bf16", torch.device("cpu"), model, (4, 84, 84)) == "bf16"
    assert capsys.readouterr().err == ""
