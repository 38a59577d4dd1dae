"""`a2d search --preset nature-widths` end to end at toy scale: under budget, the best judged,
a reused supernet, resume, refusals."""

import json

import numpy as np
import pytest

from a2d_edge.cli import main
from a2d_edge.hw.widthtable import WidthTable
from a2d_edge.nets import load_arch
from a2d_edge.nets.widths import ElasticNature
from a2d_edge.search.checkpoint import load_supernet
from a2d_edge.search.phase import load_phase
from a2d_edge.sources.checkpoint import load_agent
from tests.hw.test_widthtable import random_width_table
from tests.search.test_distill_pipeline import _args, _random_table

WIDTHS = ("--preset", "nature-widths", "--judge-adapt-steps", "1")


def _budget(table: WidthTable, share: float) -> float:
    return round(float(np.quantile([t.p50_us for t in table.entries.values()], share)) / 1000, 4)


def test_width_search_finishes_the_best_judged_arch_under_the_budget(tmp_path, tiny_agent_ckpt):
    lut = tmp_path / "w.json"
    table = random_width_table()
    table.save(lut)
    budget = _budget(table, 0.2)
    out = tmp_path / "s"
    argv = _args(out, *WIDTHS, "--lut", str(lut), "--latency-budget-ms", str(budget),
                 "--rerank-top", "2", teacher=tiny_agent_ckpt)  # fmt: skip
    assert main(argv) == 0
    record = json.loads((out / "search.json").read_text())
    arch = load_arch(str(out / "arch.json"))
    lat = record["latency"]
    assert arch["family"] == "nature" and record["derived"] == arch
    assert record["preset"] == "nature-widths" and lat["select"] == "exhaustive"
    # every arch the table fits was judged, none over the budget
    fits = table.within(budget)
    assert lat["judged"] == len(fits) == len(lat["candidates"])
    assert all(c["predicted_ms"] <= budget for c in lat["candidates"])
    losses = [c["loss"] for c in lat["candidates"]]
    assert losses == sorted(losses)  # best first
    assert (
        lat["predicted_ms"] == pytest.approx(table.predict(arch)) and lat["predicted_ms"] <= budget
    )
    rerank = lat["rerank"]  # the best two judged again, the better of them kept
    # the kept arch has the least loss of the two (two archs can tie at the record's 6 decimals)
    loss_of = {tuple(j["widths"]): j["loss"] for j in rerank["judged"]}
    assert loss_of[(*arch["channels"], arch["hidden"])] == min(loss_of.values())
    assert "measured_ms" not in lat  # another machine's table
    _, ckpt = load_agent(out / "agent.pt")
    assert ckpt["arch"] == arch and ckpt["step"] == 160 + 96
    assert load_phase(out / "supernet.pt")["space"]["kind"] == "widths"
    # its zoo card names the width space; another host's table does not time it here
    from tools.publish_zoo import search_card

    card = search_card(out, [str(lut)])["search"]
    assert card["space"] == "nature-widths" and card["measured_here"]["w.json"]["ms"] is None
    # a completed run: no phase trains or selects again
    search = (out / "search.json").read_text()
    assert main(["search", "--resume", str(out)]) == 0
    assert (out / "search.json").read_text() == search
    assert (
        load_phase(out / "supernet.pt")["step"] == 160
        and load_phase(out / "finish.pt")["step"] == 96
    )

    # the trained supernet, another table and budget: selection and finish only
    other = tmp_path / "w2.json"
    random_width_table(seed=1).save(other)
    out2 = tmp_path / "s2"
    argv = _args(out2, *WIDTHS, "--supernet", str(out), "--lut", str(other),
                 "--latency-budget-ms", str(budget), teacher=tiny_agent_ckpt)  # fmt: skip
    assert main(argv) == 0
    assert not (out2 / "supernet.pt").exists()
    assert load_agent(out2 / "agent.pt")[1]["step"] == 96
    net, _ = load_supernet(str(out), "ALE/Pong-v5", 6)
    assert isinstance(net, ElasticNature)


def test_a_width_table_alone_picks_the_width_space(tmp_path, tiny_agent_ckpt):
    lut = tmp_path / "w.json"
    table = random_width_table()
    table.save(lut)
    out = tmp_path / "s"
    budget = str(_budget(table, 0.05))
    argv = _args(out, "--lut", str(lut), "--latency-budget-ms", budget, "--judge-adapt-steps",
                 "0", "--finish-steps", "0", teacher=tiny_agent_ckpt)  # fmt: skip
    assert main(argv) == 0
    assert json.loads((out / "search.json").read_text())["preset"] == "nature-widths"


def test_width_search_refusals_are_one_line_and_write_nothing(tmp_path, tiny_agent_ckpt, capsys):
    widths, ops = tmp_path / "w.json", tmp_path / "ops.json"
    table = random_width_table()
    table.save(widths)
    _random_table().save(ops)
    fastest, _ = table.fastest()
    cases = [
        (["--lut", str(widths), "--latency-budget-ms", str(fastest / 2)], "below the fastest arch"),
        (["--lut", str(ops)], "not of space 'nature-widths'"),
        (["--lut", str(widths), "--select", "gradient"], "searched exhaustively"),
    ]
    for i, (extra, message) in enumerate(cases):
        out = tmp_path / f"o{i}"
        assert main(_args(out, "--preset", "nature-widths", *extra, teacher=tiny_agent_ckpt)) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
        assert not out.exists()
    # a width table given to an op search
    out = tmp_path / "f"
    assert main(_args(out, "--preset", "fast", "--lut", str(widths), teacher=tiny_agent_ckpt)) == 2
    err = capsys.readouterr().err.strip()
    assert "is a width table" in err and len(err.splitlines()) == 1 and not out.exists()


def test_a_budget_of_the_teacher_is_its_entry_in_this_hosts_width_table(tiny_agent_ckpt):
    from a2d_edge.hw.profile import describe_device
    from a2d_edge.search.start import teacher_latency_ms

    table = random_width_table()
    table.meta["device"] = describe_device(1)
    nature = table.entries[(32, 64, 64, 512)].p50_us / 1000  # the teacher is the Nature CNN
    assert teacher_latency_ms(table, str(tiny_agent_ckpt)) == nature
