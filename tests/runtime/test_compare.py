"""a2d run --compare: the comparison's math as pure functions, and a short real sitting."""

from __future__ import annotations

import json
import shutil

import pytest

import a2d_edge.runtime.loop as loop
from a2d_edge.cli import main
from a2d_edge.runtime.compare import (
    comparison,
    comparison_table,
    loop_figures,
    pacing_words,
    ratios,
)


def fake_report(inf50, inf99, loop50, loop99, steps=100):  # type: ignore[no-untyped-def]
    return {
        "steps": steps,
        "latency_us": {
            "inference": {"p50": inf50, "p99": inf99},
            "loop": {"p50": loop50, "p99": loop99},
        },
    }


def test_ratios_are_the_other_over_this_by_hand():
    agent = loop_figures(fake_report(146.0, 200.0, 980.0, 1500.0))
    teacher = loop_figures(fake_report(481.0, 700.0, 1470.0, 3000.0))
    assert agent == {"inference_p50_us": 146.0, "inference_p99_us": 200.0,
                     "loop_p50_us": 980.0, "loop_p99_us": 1500.0}  # fmt: skip
    r = ratios(agent, teacher)
    assert r["inference_p50_us"] == pytest.approx(481 / 146)
    assert r["inference_p99_us"] == pytest.approx(3.5)
    assert r["loop_p50_us"] == pytest.approx(1.5)
    assert r["loop_p99_us"] == pytest.approx(2.0)
    missing = ratios({"inference_p50_us": 0.0, "loop_p50_us": None}, teacher)
    assert set(missing.values()) == {None}  # no figure, or a zero one: no ratio


def test_the_table_lists_each_setting_and_figure():
    agent = fake_report(100.0, 150.0, 900.0, 1000.0, 60)
    teacher = fake_report(250.0, 300.0, 1350.0, 1000.0, 60)
    comp = comparison(agent, teacher, ("agent", "teacher"), 50)
    assert comp["names"] == ["agent", "teacher"] and comp["steps"] == [60, 60]
    assert comp["ratio"] == "teacher / agent" and comp["block_steps"] == 50
    quiet = comparison(fake_report(50.0, 60.0, 800.0, 900.0), fake_report(200.0, 210.0, 1000.0,
                       900.0), ("agent", "teacher"), 50)  # fmt: skip
    table = comparison_table([("60 Hz", comp), ("60 Hz, spin 2 ms + prewarm", quiet)])
    lines = table.splitlines()
    assert lines[0] == "| setting | figure | teacher | agent | teacher / agent |"
    assert lines[2] == "| 60 Hz | inference p50 | 250.0 us | 100.0 us | 2.50x |"
    assert lines[4] == "| 60 Hz | whole loop step p50 | 1350.0 us | 900.0 us | 1.50x |"
    assert lines[5] == "| 60 Hz | whole loop step p99 | 1000.0 us | 1000.0 us | 1.00x |"
    assert lines[6] == "| 60 Hz, spin 2 ms + prewarm | inference p50 | 200.0 us | 50.0 us | 4.00x |"
    assert len(lines) == 2 + 2 * 4
    relabelled = comparison_table([("x", comp)], labels=("the agent", "zoo:pong"))
    assert relabelled.splitlines()[0].endswith("| zoo:pong | the agent | zoo:pong / the agent |")
    no_figure = comparison(fake_report(None, None, 1.0, 1.0), fake_report(1.0, 1.0, 1.0, 1.0),
                           ("a", "b"), 5)  # fmt: skip
    assert "| x | inference p50 | 1.0 us | n/a | n/a |" in comparison_table([("x", no_figure)])


def test_pacing_words():
    assert pacing_words(60.0, 0.0, False) == "60 Hz"
    assert pacing_words(60.0, 2.0, True) == "60 Hz, spin 2 ms + prewarm"
    assert pacing_words(0.0, 0.0, False) == "free"


@pytest.fixture
def teacher_bundle(bundle, tmp_path):
    copy = tmp_path / "teacher"
    shutil.copytree(bundle, copy)
    return copy


def test_a_short_compared_run_interleaves_blocks_and_reports_ratios(
    bundle, teacher_bundle, tmp_path, monkeypatch, capsys
):
    order: list[str] = []
    make = loop.make_vec_env

    class Tagged:
        def __init__(self, env, tag):  # type: ignore[no-untyped-def]
            self.env, self.tag = env, tag

        def step(self, action):  # type: ignore[no-untyped-def]
            order.append(self.tag)
            return self.env.step(action)

        def __getattr__(self, name):  # type: ignore[no-untyped-def]
            return getattr(self.env, name)

    made = iter("AB")
    monkeypatch.setattr(loop, "make_vec_env", lambda *a, **k: Tagged(make(*a, **k), next(made)))
    path = tmp_path / "r.json"
    argv = ["run", str(bundle), "--compare", str(teacher_bundle), "--max-steps", "12",
            "--compare-block", "5", "--hz", "0", "--quiet", "--report", str(path)]  # fmt: skip
    assert main(argv) == 0
    assert "".join(order) == "AAAAABBBBBAAAAABBBBBAABB"  # blocks of 5 in turn, 12 steps each
    r = json.loads(path.read_text())
    assert r["steps"] == 12 and r["compared"]["steps"] == 12
    comp = r["comparison"]
    assert comp["names"] == ["bundle", "teacher"] and comp["steps"] == [12, 12]
    mine, theirs = comp["figures"]["bundle"], comp["figures"]["teacher"]
    assert mine["inference_p50_us"] == r["latency_us"]["inference"]["p50"]
    assert theirs["loop_p99_us"] == r["compared"]["latency_us"]["loop"]["p99"]
    for key, ratio in comp["ratios"].items():
        assert ratio == pytest.approx(theirs[key] / mine[key])
    out = capsys.readouterr().out
    assert "| setting | figure | teacher | bundle | teacher / bundle |" in out
    assert "| free | whole loop step p99 |" in out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ([], "--compare times both bundles for a number of steps: give --max-steps"),
        (["--max-steps", "5", "--record", "x.gif"], "--record shows one agent"),
    ],
)
def test_a_comparison_that_cannot_run_is_one_line(bundle, teacher_bundle, flags, message, capsys,
                                                  tmp_path, monkeypatch):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(bundle), "--compare", str(teacher_bundle), "--quiet", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.gif").exists()


def test_a_block_without_a_comparison_is_refused(bundle, capsys):
    assert main(["run", str(bundle), "--compare-block", "10", "--max-steps", "5", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--compare-block applies to a comparison only" in err and len(err.splitlines()) == 1


def test_a_bundle_of_another_game_is_not_compared(bundle, teacher_bundle, capsys):
    manifest = teacher_bundle / "manifest.json"
    m = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**m, "env_id": "ALE/Breakout-v5"}))
    assert main(["run", str(bundle), "--compare", str(teacher_bundle), "--max-steps", "5",
                 "--quiet"]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert "plays ALE/Breakout-v5, not ALE/Pong-v5" in err and len(err.splitlines()) == 1


def test_the_demos_loop_comparison_times_both_settings(bundle, tmp_path, capsys):
    from a2d_edge import demo

    out = tmp_path / "demo"
    shutil.copytree(bundle, out / "bundle")
    shutil.copytree(bundle, out / "teacher-bundle")
    sittings = demo.compare_loops(out, 60.0, 8, 2.0)
    assert [setting for setting, _ in sittings] == ["60 Hz", "60 Hz, spin 2 ms + prewarm"]
    for _, comp in sittings:
        assert comp["names"] == ["bundle", "teacher-bundle"] and comp["steps"] == [8, 8]
        assert all(r is not None and r > 0 for r in comp["ratios"].values())
    spin = json.loads((out / "compare-spin.json").read_text())
    assert spin["spin_ms"] == 2.0 and spin["prewarm"] and spin["compared"]["prewarm"]
    table = comparison_table(sittings, labels=("agent", "teacher"))
    assert table.count("| 60 Hz, spin 2 ms + prewarm |") == 4


def test_the_demos_summary_ends_with_the_loop_comparison(tmp_path, capsys):
    from a2d_edge import demo

    out = tmp_path / "demo"
    for name, data in {
        "search/search.json": {"derived_flops": 2e6, "latency": {"table": "t.json",
                               "table_mode": "warm", "budget_ms": 0.08, "predicted_ms": 0.07}},
        "search/result.json": {"score": {"mean": 19.0, "scores": [19.0]}},
        "run.json": {"latency_us": {"inference": {"p50": 100.0, "p99": 150.0}}, "policy": "p",
                     "misses": 0, "steps": 10, "score_mean": 19.0, "scores": [19.0]},
        "bundle/manifest.json": {"verification": {}},
    }.items():  # fmt: skip
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(json.dumps(data))
    comp = comparison(fake_report(100.0, 150.0, 900.0, 1000.0, 60),
                      fake_report(300.0, 450.0, 1800.0, 2000.0, 60), ("bundle", "teacher-bundle"),
                      50)  # fmt: skip
    demo.summary(out, ("18.4", "0.240 ms"), 60.0, [("60 Hz", comp)])
    printed = capsys.readouterr().out
    assert printed.rstrip().splitlines()[-2] == (
        "| 60 Hz | whole loop step p99 | 2000.0 us | 1000.0 us | 2.00x |"
    )
    assert "| setting | figure | teacher | agent | teacher / agent |" in printed
    saved = json.loads((out / "summary.json").read_text())
    [loop_row] = saved["loop_comparison"]
    assert loop_row["setting"] == "60 Hz" and loop_row["ratios"]["inference_p50_us"] == 3.0
    assert saved["rows"]["deadline misses"] == "0 of 10"
