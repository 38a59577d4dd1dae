"""--precision auto: bf16 only where bf16 math is native and measured faster; an emulated bf16
says what it costs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from a2d_edge.errors import A2DError
from a2d_edge.nets import build_agent, get_space, load_arch
from a2d_edge.utils import accel
from a2d_edge.utils.accel import choose_precision, median_ratio, resolve_precision
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


@pytest.mark.parametrize(
    ("device", "isa", "ratio", "expected"),
    [
        ("cpu", AVX512_BF16, 0.69, "bf16"),  # host A's EPYC: bf16 is faster
        ("cpu", AVX512_BF16, 0.9, "bf16"),  # at the bound
        ("cpu", AVX512_BF16, 0.91, "fp32"),
        ("cpu", AVX512_BF16, 1.32, "fp32"),  # host C's Xeon: native, and slower
        ("cpu", AVX2, 0.5, "fp32"),  # not native: no measurement makes it bf16
        ("cuda", AVX2, 1.5, "bf16"),  # a GPU's bf16 is not judged by a CPU probe
    ],
)
def test_auto_follows_the_measured_ratio_where_bf16_is_native(device, isa, ratio, expected):
    assert choose_precision("auto", device, isa, device == "cuda", bf16_ratio=ratio) == (
        expected,
        False,
    )


def test_median_ratio_by_hand() -> None:
    assert median_ratio([(1.0, 2.0), (2.0, 1.0), (4.0, 3.0)]) == 0.75  # 2, 0.5, 0.75
    assert median_ratio([(1.0, 1.0), (1.0, 2.0)]) == 1.5


def test_the_ratio_probe_times_both_ways(monkeypatch) -> None:
    model = build_agent(load_arch("nature"), 6)
    before = [p.detach().clone() for p in model.parameters()]
    ratio = accel.bf16_time_ratio(model, (4, 84, 84), batch=2, rounds=3)
    assert ratio > 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_the_ratio_probe_times_a_supernet_by_one_path() -> None:
    from a2d_edge.nets.supernet import Supernet

    net = Supernet(get_space("fast"), 6)
    logits, value = net.timing_forward(torch.zeros(2, 4, 84, 84, dtype=torch.uint8))
    assert logits.shape == (2, 6) and value.shape == (2,)
    assert accel.bf16_time_ratio(net, (4, 84, 84), batch=2, rounds=1) > 0


def test_auto_measures_records_and_a_resume_keeps_it(monkeypatch, capsys, tmp_path) -> None:
    model = build_agent(load_arch("nature"), 6)
    cpu = torch.device("cpu")
    _pretend(monkeypatch, "cpuinfo-xeon-avx512.txt")
    monkeypatch.setattr(accel, "bf16_time_ratio", lambda *a, **k: 1.32)
    assert resolve_precision("auto", cpu, model, (4, 84, 84), run_dir=tmp_path) == "fp32"
    out = capsys.readouterr().out
    assert "auto -> fp32" in out and "1.32x fp32's time" in out
    rec = json.loads((tmp_path / "precision.json").read_text())
    assert rec["precision"] == "fp32" and rec["bf16_ratio"] == 1.32
    monkeypatch.setattr(accel, "bf16_time_ratio", lambda *a, **k: 0.5)  # a faster minute
    assert resolve_precision("auto", cpu, model, (4, 84, 84), run_dir=tmp_path) == "fp32"
    assert "kept from this run's start" in capsys.readouterr().out
    _pretend(monkeypatch, "cpuinfo-epyc-avx512.txt")  # resumed on another host: decided anew
    assert resolve_precision("auto", cpu, model, (4, 84, 84), run_dir=tmp_path) == "bf16"
    assert json.loads((tmp_path / "precision.json").read_text())["precision"] == "bf16"


@pytest.mark.parametrize("text", ["{", "[]", '{"precision": "fp16", "host": "x"}'])
def test_a_broken_precision_record_is_measured_again(monkeypatch, tmp_path, text) -> None:
    model = build_agent(load_arch("nature"), 6)
    _pretend(monkeypatch, "cpuinfo-epyc-avx512.txt")
    monkeypatch.setattr(accel, "bf16_time_ratio", lambda *a, **k: 0.7)
    (tmp_path / "precision.json").write_text(text)
    assert (
        resolve_precision("auto", torch.device("cpu"), model, (4, 84, 84), run_dir=tmp_path)
        == "bf16"
    )


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
    monkeypatch.setattr(accel, "bf16_time_ratio", lambda *a, **k: 0.69)  # host A's measurement
    assert resolve_precision("auto", cpu, model, (4, 84, 84)) == "bf16"
    out = capsys.readouterr().out
    assert "auto -> bf16" in out and "measured at 0.69x fp32's time" in out


def test_an_emulated_bf16_warns_with_its_measured_cost(monkeypatch, capsys) -> None:
    model = build_agent(load_arch("nature"), 6)
    _pretend(monkeypatch, "cpuinfo-epyc-avx2.txt")
    assert resolve_precision("bf16", torch.device("cpu"), model, (4, 84, 84)) == "bf16"
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "runs emulated" in err and "x as long as in fp32" in err
    _pretend(monkeypatch, "cpuinfo-epyc-avx512.txt")
    assert resolve_precision("bf16", torch.device("cpu"), model, (4, 84, 84)) == "bf16"
    assert capsys.readouterr().err == ""


def test_a_resumed_run_keeps_the_precision_its_start_measured(
    monkeypatch, capsys, tmp_path, tiny_train_args
) -> None:
    from a2d_edge.cli import main

    _pretend(monkeypatch, "cpuinfo-xeon-avx512.txt")
    monkeypatch.setattr(accel, "bf16_time_ratio", lambda *a, **k: 1.3)
    run = tmp_path / "run"
    assert main(tiny_train_args(run, steps=40)) == 0
    assert json.loads((run / "precision.json").read_text())["precision"] == "fp32"
    assert "auto -> fp32" in capsys.readouterr().out
    monkeypatch.setattr(accel, "bf16_time_ratio", lambda *a, **k: 0.6)
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0  # set up again, then done
    assert "auto -> fp32 (kept from this run's start)" in capsys.readouterr().out


def test_the_ratio_probe_times_a_width_supernet_by_its_widest_arch() -> None:
    from a2d_edge.nets.widths import ElasticNature, get_width_space

    space = get_width_space("nature-widths")
    net = ElasticNature(space, 4)
    obs = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    logits, value = net.timing_forward(obs)
    widest = net.extract(space.arch(space.widest))(obs)
    assert torch.allclose(logits, widest[0], atol=1e-6) and torch.allclose(value, widest[1])
    assert accel.bf16_time_ratio(net, (4, 84, 84), batch=2, rounds=1) > 0
