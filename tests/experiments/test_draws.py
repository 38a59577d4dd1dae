"""Random baselines: archs of a table's space drawn until they fit a budget, the same on a rerun;
a sweep's `random_archs` group trains one run per draw (ex benchmarks/distill_search.py's)."""

import json
import random
from pathlib import Path

import pytest

from a2d_edge.cli import main
from a2d_edge.errors import A2DError
from a2d_edge.experiments.draws import fitting_randoms
from a2d_edge.experiments.spec import read_experiment
from a2d_edge.experiments.sweep import expand
from a2d_edge.hw.table import load_table
from a2d_edge.utils.io import write_json

FAST = "latency_tables/amd-epyc-2c-avx2-onnxruntime-fp32-fast.json"
WIDTHS = "latency_tables/intel-xeon-2c-amx-onnxruntime-fp32-nature-widths.json"


def _key(arch):
    return json.dumps(arch, sort_keys=True)


def test_random_baselines_fit_their_budget_and_are_the_same_on_a_rerun():
    lut = load_table(FAST)
    fastest, _ = lut.fastest()
    budget = fastest * 1.4
    drawn = fitting_randoms(lut.space, lut, budget, 5, seed=7)
    assert len(drawn) == 5 and all(lut.predict(a) <= budget for a in drawn)
    assert len({_key(a) for a in drawn}) > 1  # drawn, not one arch
    assert drawn == fitting_randoms(lut.space, lut, budget, 5, seed=7)  # a resumed series
    assert drawn[:2] == fitting_randoms(lut.space, lut, budget, 2, seed=7)  # draw i of any n


def test_random_baselines_stop_at_the_draws_and_never_repeat():
    from a2d_edge.nets import get_space

    class FirstBlockCosts:  # a table where only archs that skip their first block fit 0 ms
        def predict(self, arch):
            return 0.0 if arch["ops"][0] == "skip" else 1.0

    space = get_space("fast")
    few = fitting_randoms(space, FirstBlockCosts(), 0.0, 5, seed=7, draws=14)
    assert len(few) < 5 and all(a["ops"][0] == "skip" for a in few)  # 14 draws: ~2 fit
    many = fitting_randoms(space, FirstBlockCosts(), 0.0, 5, seed=7)
    assert len(many) == 5 and all(a["ops"][0] == "skip" for a in many)
    assert len({_key(a) for a in many}) == 5  # distinct
    assert many[: len(few)] == few  # the same draws in the same order


def test_random_baselines_of_a_width_space_come_from_its_table():
    table = load_table(WIDTHS)
    budget = 0.333 * table.predict(table.space.arch(table.space.widest))
    fits = {_key(a) for a in table.within(budget)}
    drawn = fitting_randoms(table.space, table, budget, 5, seed=7)
    assert len(drawn) == 5 and all(_key(a) in fits for a in drawn)
    assert len({_key(a) for a in drawn}) == 5  # distinct archs
    assert all(a["family"] == "nature" for a in drawn)  # plain nets `a2d distill` trains
    assert drawn == fitting_randoms(table.space, table, budget, 5, seed=7)  # a resumed series


def test_an_op_space_draws_its_random_archs_as_random_arch_does():
    from a2d_edge.nets.space import get_space, random_arch

    space = get_space("fast")  # a resumed series must draw the archs its start drew
    a, b = random.Random(11), random.Random(11)
    assert [space.sample(a) for _ in range(5)] == [random_arch(space, rng=b) for _ in range(5)]


RANDOM = f"""\
games: [ALE/Pong-v5]
teacher: zoo:pong
lut: {FAST}
runs:
  random: {{command: distill, random_archs: 3, latency_budget_ms: BUDGET}}
"""


def _file(tmp_path, text):
    f = tmp_path / "exp.yaml"
    f.write_text(text)
    return f


@pytest.mark.parametrize(
    "body, message",
    [
        ("{command: search, random_archs: 2}", "belongs to a group of command: distill"),
        ("{command: distill, random_archs: 0}", "random_archs must be an integer >= 1"),
        ("{command: distill, random_archs: two}", "random_archs must be an integer >= 1"),
        ("{command: distill, random_archs: 2, random_seed: 1.5}", "random_seed must be"),
        ("{command: distill, random_seed: 3, arch: nature}", "random_seed without random_archs"),
        ("{command: distill, random_archs: 2, arch: nature}", "drop arch"),
        ("{command: distill, random_archs: 2, grid: {arch: [nature]}}", "drop arch"),
    ],
)
def test_bad_random_groups_are_refused_in_one_line(tmp_path, body, message):
    f = _file(tmp_path, f"games: [ALE/Pong-v5]\nruns:\n  r: {body}\n")
    with pytest.raises(A2DError, match=message) as e:
        read_experiment(f)
    assert "\n" not in str(e.value)


def test_a_random_group_needs_a_table_and_a_budget(tmp_path):
    no_budget = RANDOM.replace(", latency_budget_ms: BUDGET", "")
    with pytest.raises(A2DError, match="needs a budget"):
        expand(read_experiment(_file(tmp_path, no_budget)))
    no_lut = RANDOM.replace(f"lut: {FAST}\n", "").replace("BUDGET", "0.1")
    with pytest.raises(A2DError, match="needs lut"):
        expand(read_experiment(_file(tmp_path, no_lut)))


def test_a_random_group_trains_one_run_per_draw_the_same_on_a_rerun(tmp_path, monkeypatch, capsys):
    lut = load_table(FAST)
    budget = round(lut.fastest()[0] * 1.4, 4)
    f = _file(tmp_path, RANDOM.replace("BUDGET", str(budget)))
    runs = expand(read_experiment(f), out=tmp_path / "o")
    assert [r.name for r in runs] == [f"Pong/random/random={i}-s0" for i in range(3)]
    assert [r.grid for r in runs] == [{"random": i} for i in range(3)]
    trained = []

    def fake_run(command, cfg, run_dir, *, new, resume):  # `a2d distill` that finishes at once
        from a2d_edge.config import to_dict
        from a2d_edge.experiments.commands import Outcome

        trained.append(json.loads(Path(cfg.arch).read_text()))
        write_json(Path(run_dir) / "config.json", {"kind": "distill", "config": to_dict(cfg)})
        write_json(Path(run_dir) / "result.json", {"score": None, "steps": {"finish": 1}})
        return Outcome(1, "trained")

    monkeypatch.setattr("a2d_edge.experiments.sweep.run_command", fake_run)
    for out in ("o", "again"):
        assert main(["sweep", str(f), "--out", str(tmp_path / out)]) == 0
    first, second = trained[:3], trained[3:]
    assert first == second == fitting_randoms(lut.space, lut, budget, 3, seed=7)
    assert all(lut.predict(a) <= budget for a in first) and len({_key(a) for a in first}) == 3
    saved = json.loads((tmp_path / "o/Pong/random/random=1-s0/config.json").read_text())
    assert saved["config"]["arch"] == str(tmp_path / "o/Pong/random/random=1-s0.arch.json")
    capsys.readouterr()
    assert main(["sweep", str(f), "--out", str(tmp_path / "o")]) == 0  # drawn arch: no refusal
    assert capsys.readouterr().out.count("skipped") == 3 and len(trained) == 6


def test_a_draw_the_budget_cannot_hold_fails_in_one_line(tmp_path, monkeypatch, capsys):
    lut = load_table(FAST)
    floor = lut.fastest()[0]
    f = _file(tmp_path, RANDOM.replace("BUDGET", str(round(floor, 6))))
    monkeypatch.setattr("a2d_edge.experiments.draws.DRAWS", 2000)
    monkeypatch.setattr(
        "a2d_edge.experiments.sweep.run_command", lambda *a, **k: pytest.fail("trained")
    )
    assert main(["sweep", str(f), "--out", str(tmp_path / "o")]) != 0
    err = capsys.readouterr()
    assert "distinct arch(s) of fast fit" in err.out + err.err
    assert not (tmp_path / "o/Pong/random/random=2-s0").exists()  # nothing half-written


def test_another_hosts_table_is_refused_before_anything_trains(tmp_path, monkeypatch, capsys):
    shipped = json.loads(Path(FAST).read_text())
    jetson_cpu = {"machine": "aarch64", "cpu": "ARMv8 Processor rev 1 (v8l)", "vendor": ""}
    shipped["device"] |= jetson_cpu | {"isa": ["neon", "asimddp"], "slug": "cortex-a78ae-12c"}
    jetson = tmp_path / "jetson.json"
    jetson.write_text(json.dumps(shipped))
    text = RANDOM.replace(FAST, str(jetson)).replace(
        "latency_budget_ms: BUDGET", "budget_of_teacher: 0.333"
    )
    f = _file(tmp_path, text)
    monkeypatch.setattr(
        "a2d_edge.experiments.sweep.run_command", lambda *a, **k: pytest.fail("trained")
    )
    assert main(["sweep", str(f), "--out", str(tmp_path / "o")]) != 0
    out = capsys.readouterr()
    said = [line for line in (out.out + out.err).splitlines() if "another machine's" in line]
    assert said and "give --latency-budget-ms instead" in said[0]
    assert not (tmp_path / "o/Pong/random").exists()  # refused before any run folder
