"""The Table protocol over both kinds: an op table (`LatencyTable`) and a width table
(`WidthTable`) answer the search's questions alike (`hw.table`)."""

import json
import random

import numpy as np
import pytest
import torch

from a2d_edge.errors import A2DError
from a2d_edge.hw.lut import Correction, LatencyTable, OpKey, Timing, repair_to_budget
from a2d_edge.hw.table import TABLE_SCHEMAS, load_table
from a2d_edge.hw.widthtable import WidthTable
from a2d_edge.nets.space import SearchSpace, get_space, searched_arch
from tests.hw.test_widthtable import random_width_table

META = {"device": {"cpu": "elsewhere", "slug": "elsewhere"}, "backend": "onnxruntime",
        "precision": "fp32", "threads": 1, "mode": "warm", "batch": 1}  # fmt: skip
MINI = SearchSpace("mini", ((2, 8, 1), (1, 16, 2)), ops=("conv_k3", "ir_k3_e1", "skip"),
                   stem_channels=8)  # fmt: skip


def op_table(space: SearchSpace, seed: int = 0, correction: Correction | None = None):
    """Random entries (skip cheapest), another machine's, warm."""
    rng = np.random.default_rng(seed)
    entries = {}
    for block in space.blocks():
        for op in space.ops:
            us = 0.5 if op == "skip" else float(rng.uniform(5, 60))
            entries[OpKey.of(op, block)] = Timing(us, us, 50)
    fixed = {k: Timing(v, v, 50) for k, v in {"stem": 30.0, "head": 10.0, "overhead": 15.0}.items()}
    return LatencyTable(space, entries, fixed, meta=dict(META), correction=correction)


TABLES = {
    "fast": lambda: op_table(get_space("fast"), 0),
    "fast-corrected": lambda: op_table(
        get_space("fast"), 1, Correction(0.9, 12.0, 3.0, {"conv_k5": 0.8, "ir_k3_e3": 1.2})
    ),
    "mini": lambda: op_table(MINI, 2, Correction(1.1, -5.0, 2.0)),
    "nature-widths": lambda: random_width_table(0),
}
SMALL = ("mini", "nature-widths")  # every candidate predicted


def one_hot(table, arch) -> torch.Tensor:
    genes = table.space.genes(arch)
    w = torch.zeros(len(genes), max(table.space.choice_counts()), dtype=torch.float64)
    w[torch.arange(len(genes)), torch.tensor(genes)] = 1.0
    return w


@pytest.mark.parametrize("name", list(TABLES))
def test_expected_on_one_hot_rows_is_predict(name):
    table = TABLES[name]()
    table.check()
    rng = random.Random(0)
    for _ in range(8):
        arch = table.space.sample(rng)
        assert float(table.expected(one_hot(table, arch))) == pytest.approx(table.predict(arch))
    w = torch.full_like(one_hot(table, arch), 1.0 / max(table.space.choice_counts()))
    w.requires_grad_(True)
    table.expected(w).backward()  # differentiable
    assert w.grad is not None and torch.isfinite(w.grad).all()


@pytest.mark.parametrize("name", SMALL)
def test_fastest_is_the_minimum_over_every_candidate(name):
    table = TABLES[name]()
    ms, arch = table.fastest()
    predictions = [table.predict(a) for a in table.space.candidates()]
    assert ms == pytest.approx(min(predictions)) and table.predict(arch) == pytest.approx(ms)
    assert table.space.contains(arch)


@pytest.mark.parametrize("name", list(TABLES))
def test_repair_fits_the_limit_and_leaves_a_fitting_arch_alone(name):
    table = TABLES[name]()
    fastest, _ = table.fastest()
    rng = random.Random(1)
    for _ in range(6):
        arch = table.space.sample(rng)
        ms = table.predict(arch)
        same, none = table.repair(arch, ms + 1e-9)
        assert same == arch and none == []
        limit = fastest + rng.uniform(0.05, 0.9) * max(ms - fastest, 0.0)
        fixed, swaps = table.repair(arch, limit)
        assert table.space.contains(fixed) and table.predict(fixed) <= limit
        assert bool(swaps) == (ms > limit)
    with pytest.raises(A2DError):
        table.repair(table.space.sample(rng), fastest * 0.5)


@pytest.mark.parametrize("name", ["fast", "fast-corrected", "mini"])
def test_an_op_tables_repair_is_repair_to_budgets(name):
    table = TABLES[name]()
    space = table.space
    fastest, _ = table.fastest()
    rng = random.Random(2)
    for i in range(6):
        arch = space.sample(rng)
        limit = fastest + 0.3 * (table.predict(arch) - fastest)
        pref = None if i % 2 else torch.softmax(torch.randn(space.n_blocks, len(space.ops)), -1)
        expected_pref = (
            pref
            if pref is not None
            else torch.full((space.n_blocks, len(space.ops)), 1.0 / len(space.ops))
        )
        ops, swaps = repair_to_budget(
            list(arch["ops"]), space.ops, expected_pref, table.block_costs_us(),
            table.fixed_us(), limit * 1000,
            lambda n: table.predict(searched_arch(space, n)) * 1000,
        )  # fmt: skip
        assert table.repair(arch, limit, pref) == (searched_arch(space, ops), swaps)


def test_a_width_tables_repair_follows_the_preference():
    table = TABLES["nature-widths"]()
    space = table.space
    widest = space.arch(space.widest)
    limit = table.predict(widest) * 0.9
    # keeping the fc wide is worth much: another dimension is narrowed first
    pref = torch.zeros(4, space.n_choices)
    pref[3] = torch.tensor([0.0, 0.0, 0.0, 100.0])
    fixed, steps = table.repair(widest, limit, pref)
    assert table.predict(fixed) <= limit and space.widths_of(fixed)[3] == space.widest[3]
    assert steps and all(s["dimension"] != 3 for s in steps)


@pytest.mark.parametrize("name", list(TABLES))
def test_recalibrate_records_the_same_keys_for_both_kinds(name):
    table = TABLES[name]()
    timed: list[int] = []

    def measure(archs):
        timed.append(len(archs))
        return np.array([1.25 * table.predict(a) * 1000 for a in archs])

    arch = table.space.sample(random.Random(3))
    before = table.predict(arch)
    record = table.recalibrate(measure, 6, seed=1, device={"cpu": "here"})
    assert timed == [6] and table.meta["recalibration"] is record
    assert set(record) == {"time", "archs", "seed", "drift_factor", "drift_fit", "before",
                           "after_in_sample", "device"}  # fmt: skip
    assert record["device"] == {"cpu": "here"} and record["drift_factor"] == pytest.approx(1.25)
    assert table.predict(arch) == pytest.approx(1.25 * before)
    with pytest.raises(A2DError, match="at least 3"):
        table.recalibrate(measure, 2)


def test_a_width_spaces_spread_is_its_tables_drift_sample():
    table = TABLES["nature-widths"]()
    assert table.space.spread(12, 1) == table.drift_archs(12, 1)


def test_load_table_reads_both_schemas_and_names_them_otherwise(tmp_path):
    assert set(TABLE_SCHEMAS.values()) == {LatencyTable, WidthTable}
    for name in ("fast", "nature-widths"):
        table = TABLES[name]()
        table.save(tmp_path / f"{name}.json")
        back = load_table(tmp_path / f"{name}.json")
        assert type(back) is type(table) and back.space == table.space
        assert back.path == str(tmp_path / f"{name}.json")
    (tmp_path / "odd.json").write_text(json.dumps({"schema": "a2d.lut/9"}))
    with pytest.raises(A2DError, match=r"'a2d\.lut/1' or 'a2d\.widthlut/1', got 'a2d\.lut/9'"):
        load_table(tmp_path / "odd.json")


def test_an_op_table_lacking_an_entry_fails_its_check():
    table = op_table(MINI)
    del table.entries[next(iter(table.entries))]
    with pytest.raises(A2DError, match="lacks 1 op entry"):
        table.check()
