"""Width tables: every arch of a width space timed whole; load, predict, refuse."""

import json

import numpy as np
import pytest

from a2d_edge.errors import A2DError
from a2d_edge.hw.lut import LatencyTable, Timing
from a2d_edge.hw.table import load_table
from a2d_edge.hw.widthtable import WidthTable
from a2d_edge.nets.widths import WidthSpace, get_width_space
from tests.search.test_distill_pipeline import _random_table

SPACE = get_width_space("nature-widths")
META = {**_random_table().meta, "n_actions": 6}  # another machine's, warm


def random_width_table(seed=0, space=SPACE):
    """Latency ~ FLOPs plus noise (another machine's table, warm mode)."""
    rng = np.random.default_rng(seed)
    entries = {}
    for path in space.paths():
        widths = space.widths(path)
        us = 40.0 + space.widths_flops(widths, 6) / 2e4 * rng.uniform(0.8, 1.2)
        entries[widths] = Timing(us, us * 1.1, 50)
    return WidthTable(space, entries, dict(META))


def test_a_width_table_round_trips_and_predicts_each_arch_by_its_own_entry(tmp_path):
    table = random_width_table()
    path = tmp_path / "w.json"
    table.save(path)
    back = load_table(path)
    assert isinstance(back, WidthTable) and back.entries == table.entries
    arch = SPACE.arch((16, 32, 32, 256))
    assert back.predict(arch) == pytest.approx(table.entries[(16, 32, 32, 256)].p50_us / 1000)
    fastest, quickest = back.fastest()
    assert fastest == min(t.p50_us for t in table.entries.values()) / 1000
    assert back.predict(quickest) == fastest
    assert back.host_match() == "other" and back.describe_mode() == "warm"


@pytest.mark.parametrize("seed", range(5))
def test_within_returns_every_arch_under_the_limit_and_none_over(seed):
    table = random_width_table(seed)
    limit = float(np.quantile([t.p50_us for t in table.entries.values()], 0.3)) / 1000
    inside = table.within(limit)
    assert inside and all(table.predict(a) <= limit for a in inside)
    n_under = sum(t.p50_us / 1000 <= limit for t in table.entries.values())
    assert len(inside) == n_under


def test_broken_width_tables_are_one_line_errors(tmp_path):
    data = random_width_table().to_dict()
    cases = {
        "missing": {k: v for k, v in data.items() if k != "mode"},
        "lacking": {**data, "entries": data["entries"][:-1]},
        "malformed": {**data, "entries": [{"widths": [1, 2]}]},
        "schema": {**data, "schema": "a2d.other/9"},
    }
    for name, bad in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(bad))
        with pytest.raises(A2DError) as e:
            load_table(path)
        assert "\n" not in str(e.value), name
    with pytest.raises(A2DError, match="not in space"):
        random_width_table().predict(SPACE.arch((12, 16, 16, 128)))
    with pytest.raises(A2DError, match="schema"):  # an op table's reader refuses a width table
        path = tmp_path / "w.json"
        random_width_table().save(path)
        LatencyTable.load(path)


def test_profile_times_every_arch_whole_and_validates_by_a_second_sitting(tmp_path):
    from a2d_edge.hw.backends import get_backend
    from a2d_edge.hw.profile import ProfileSettings, profile_widths, validate_widths

    space = WidthSpace("small", ((8, 16), (16, 32), (16, 32), (64, 128)))
    s = ProfileSettings(get_backend("torch", "fp32"), "fp32", repeats=3, warmup=1, n_actions=4)
    table = profile_widths(space, s, progress=False)
    assert len(table.entries) == 16 and all(t.n == 3 for t in table.entries.values())
    assert table.meta["n_actions"] == 4 and table.meta["backend"] == "torch"
    assert table.host_match() == "same"
    v = validate_widths(table, 5, s, seed=0)
    assert v["archs"] == 5 and len(v["samples"]) == 5 and v["retimed"]["n"] == 5
    table.save(tmp_path / "t.json")
    assert load_table(tmp_path / "t.json").entries == table.entries


def test_a2d_profile_writes_a_width_table(tmp_path, capsys):
    from a2d_edge.hw.cli import main

    out = tmp_path / "w.json"
    argv = ["--preset", "nature-widths", "--backend", "torch", "--repeats", "2", "--warmup", "1",
            "--quiet", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert "256 archs timed whole" in capsys.readouterr().out
    assert len(WidthTable.load(out).entries) == 256
    assert main(argv) == 2  # exists: refused, kept
    assert "exists" in capsys.readouterr().err
    assert main([*argv, "--resume"]) == 2  # one sitting: nothing to resume
    assert "one sitting" in capsys.readouterr().err
    assert len(WidthTable.load(out).entries) == 256
