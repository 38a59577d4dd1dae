import json
from pathlib import Path

import pytest
import torch

from a2d_edge.cli import main as a2d
from a2d_edge.errors import A2DError
from a2d_edge.hw.cli import main as profile_main
from a2d_edge.hw.lut import Correction, LatencyTable, OpKey, Timing, repair_to_budget
from a2d_edge.hw.profile import error_stats, fit_correction, op_parts
from a2d_edge.hw.timing import parse_samples, time_interleaved
from a2d_edge.nets import SPACES, get_space, random_arch, searched_arch
from a2d_edge.nets.space import SearchSpace

TINY = SearchSpace("tiny", ((2, 8, 1),), ops=("conv_k3", "skip"), stem_channels=8)


def _tiny_table(correction=None):
    blocks = TINY.blocks()
    entries = {
        OpKey.of("conv_k3", blocks[0]): Timing(100.0, 110.0, 50),
        OpKey.of("skip", blocks[0]): Timing(1.0, 2.0, 50),
    }  # both blocks have the same shape: two entries cover the space
    fixed = {k: Timing(v, v, 50) for k, v in {"stem": 20.0, "head": 5.0, "overhead": 10.0}.items()}
    meta = {"device": {"cpu": "test"}, "backend": "torch", "precision": "fp32", "threads": 1,
            "mode": "warm", "batch": 1}  # fmt: skip
    return LatencyTable(TINY, entries, fixed, meta=meta, correction=correction)


def test_hand_built_table_predicts_sums_and_corrections():
    table = _tiny_table()
    arch = searched_arch(TINY, ["conv_k3", "skip"])
    assert table.predict(arch) == pytest.approx((20 + 5 + 10 + 100 + 1) / 1000)
    corrected = _tiny_table(Correction(scale=0.5, offset_us=4.0))
    assert corrected.predict(arch) == pytest.approx((0.5 * 136 + 4) / 1000)
    assert corrected.predict_plain(arch) == pytest.approx(0.136)


def test_per_op_term_counts_blocks_that_run_an_op():
    table = _tiny_table(Correction(scale=1.0, offset_us=0.0, per_op_us=7.0))
    # block 0 and 1 keep their shape (8 -> 8, stride 1): skip is the identity there
    assert table.n_ops(searched_arch(TINY, ["skip", "skip"])) == 0
    assert table.n_ops(searched_arch(TINY, ["conv_k3", "skip"])) == 1
    arch = searched_arch(TINY, ["conv_k3", "conv_k3"])
    assert table.predict(arch) == pytest.approx((35 + 200 + 2 * 7) / 1000)


def test_fit_with_per_op_term_recovers_it():
    import numpy as np

    plain = np.array([100.0, 150.0, 200.0, 260.0, 300.0])
    n_ops = np.array([2.0, 9.0, 4.0, 12.0, 7.0])
    c = fit_correction(plain, 0.8 * plain + 5.0 * n_ops + 20.0, n_ops)
    assert (c.scale, c.per_op_us, c.offset_us) == pytest.approx((0.8, 5.0, 20.0))


def test_expected_equals_predict_for_one_hot_and_is_differentiable():
    table = _tiny_table(Correction(0.9, 3.0, per_op_us=4.0))
    arch = searched_arch(TINY, ["skip", "conv_k3"])
    one_hot = torch.tensor([[0.0, 1.0], [1.0, 0.0]], requires_grad=True)
    expected = table.expected(one_hot)
    assert float(expected) == pytest.approx(table.predict(arch))
    expected.backward()
    assert one_hot.grad is not None
    assert one_hot.grad[0, 0] == pytest.approx((0.9 * 100 + 4.0) / 1000)


def test_round_trip(tmp_path):
    table = _tiny_table(Correction(1.1, -2.0))
    table.save(tmp_path / "t.json")
    loaded = LatencyTable.load(tmp_path / "t.json")
    assert loaded.entries == table.entries and loaded.fixed == table.fixed
    assert loaded.correction == table.correction and loaded.space == TINY
    assert loaded.mode == "warm"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema="a2d.lut/0"), "schema must be 'a2d.lut/1'"),
        (lambda d: d.pop("threads"), "missing field(s): threads"),
        (lambda d: d.update(mode="hot"), "mode must be one of"),
        (lambda d: d["fixed"].pop("overhead"), "fixed part(s) missing: overhead"),
        (lambda d: d["entries"][0].pop("p50_us"), "malformed entry"),
        (lambda d: d["space"].update(ops=["conv_k9"]), "unknown op 'conv_k9'"),
    ],
)
def test_bad_tables_are_refused_naming_what_is_wrong(tmp_path, mutate, message):
    data = _tiny_table().to_dict()
    mutate(data)
    (tmp_path / "t.json").write_text(json.dumps(data))
    with pytest.raises(A2DError, match=message.replace("(", r"\(").replace(")", r"\)")):
        LatencyTable.load(tmp_path / "t.json")


def test_truncated_file_and_missing_keys(tmp_path):
    text = json.dumps(_tiny_table().to_dict())
    (tmp_path / "t.json").write_text(text[: len(text) // 2])
    with pytest.raises(A2DError, match="not valid JSON"):
        LatencyTable.load(tmp_path / "t.json")
    table = _tiny_table()
    table.entries.pop(next(k for k in table.entries if k.op == "skip"))
    with pytest.raises(A2DError, match="no entry for OpKey\\(op='skip'"):
        table.predict(searched_arch(TINY, ["conv_k3", "skip"]))
    with pytest.raises(A2DError, match="lacks 1 op entry"):
        table.matrix_us()


def test_arch_of_another_space_is_refused():
    with pytest.raises(A2DError, match="profile that space"):
        _tiny_table().predict(random_arch("edge", 0))


@pytest.mark.parametrize("preset", list(SPACES))
def test_enumeration_covers_every_key_a_random_arch_needs(preset):
    space = get_space(preset)
    parts = op_parts(space, (84, 84))
    required = {k for b in space.blocks() for k in (OpKey.of(op, b) for op in space.ops)}
    assert required == set(parts)


def test_parse_samples_and_interleaving():
    t = parse_samples([1000, 2000, 3000, 4000, 5000])
    assert (t.p50_us, t.n) == (3.0, 5) and t.p90_us == pytest.approx(4.6)
    order = []
    runners = {n: (lambda n=n: order.append(n)) for n in "abc"}
    samples = time_interleaved(runners, repeats=3, warmup=0)
    assert order == list("abcbcacab") and all(len(v) == 3 for v in samples.values())


def test_a_burst_times_the_call_that_follows_its_own_warm_up(monkeypatch):
    """A part is slow after another part ran (its caches taken), fast after itself: one call
    per turn times the cold call, a burst of two the warm one; the warm-up calls are untimed.
    The parts advance a fake clock (200 µs warm, 3 ms cold), so a loaded machine changes
    nothing."""
    from a2d_edge.hw import timing

    now = [0]
    monkeypatch.setattr(timing.time, "perf_counter_ns", lambda: now[0])
    last: list[str] = [""]
    calls = {"a": 0, "b": 0}

    def part(name: str) -> None:
        calls[name] += 1
        now[0] += 200_000 if last[0] == name else 3_000_000
        last[0] = name

    runners = {n: (lambda n=n: part(n)) for n in "ab"}
    cold = time_interleaved(runners, repeats=4, warmup=0)
    hot = time_interleaved(runners, repeats=4, warmup=0, burst=2)
    assert all(len(v) == 4 for v in hot.values()) and calls == {"a": 12, "b": 12}
    assert parse_samples(cold["a"]).p50_us == 3000 and parse_samples(hot["a"]).p50_us == 200
    with pytest.raises(ValueError, match="in-loop"):
        time_interleaved(runners, 1, 0, between=lambda: None, burst=2)


def test_warm_tables_time_bursts_and_old_tables_keep_single_calls(tmp_path):
    from a2d_edge.hw.backends import get_backend
    from a2d_edge.hw.profile import ProfileSettings, settings_for
    from a2d_edge.runtime.pacing import Pacing

    torch_fp32 = get_backend("torch", "fp32")
    assert ProfileSettings(torch_fp32, "fp32").burst == 4
    assert ProfileSettings(torch_fp32, "fp32", mode="in-loop").burst == 1
    with pytest.raises(A2DError, match="--burst is for warm timing"):
        ProfileSettings(torch_fp32, "fp32", mode="controller", pacing=Pacing(60), burst=2)
    out = tmp_path / "t.json"
    argv = ["--backend", "torch", "--preset", "edge", "--repeats", "1", "--warmup", "0"]
    assert profile_main([*argv, "--quiet", "--out", str(out)]) == 0
    table = LatencyTable.load(out)
    assert table.meta["timing"]["burst"] == 4 and settings_for(table).burst == 4
    del table.meta["timing"]["burst"]  # a table profiled before bursts
    assert settings_for(table).burst == 1


def test_fit_and_error_stats_hand_computed():
    import numpy as np

    plain = np.array([100.0, 200.0, 300.0])
    corr = fit_correction(plain, 0.5 * plain + 10)
    assert corr.scale == pytest.approx(0.5) and corr.offset_us == pytest.approx(10)
    stats = error_stats(np.array([100.0, 100.0]), np.array([104.0, 120.0]))
    assert stats["mape_pct"] == pytest.approx(12.0)
    assert stats["within_5pct"] == 0.5 and stats["within_10pct"] == 0.5


def test_repair_meets_the_budget_swapping_least_certain_blocks_first():
    latency = torch.tensor([[100.0, 1.0], [100.0, 1.0]])
    probs = torch.tensor([[0.9, 0.1], [0.55, 0.45]])  # block 1 is the less certain one
    ops, swaps = repair_to_budget(["conv_k3", "conv_k3"], ("conv_k3", "skip"), probs, latency,
                                  fixed_us=10.0, budget_us=150.0)  # fmt: skip
    assert ops == ["conv_k3", "skip"] and swaps == [{"block": 1, "from": "conv_k3", "to": "skip"}]
    ops, _ = repair_to_budget(["conv_k3", "conv_k3"], ("conv_k3", "skip"), probs, latency,
                              fixed_us=10.0, budget_us=12.0)  # fmt: skip
    assert ops == ["skip", "skip"]


def test_tiny_profile_run_makes_a_loadable_table(tmp_path):
    out = tmp_path / "cpu-torch-fp32.json"
    argv = ["--backend", "torch", "--preset", "edge", "--repeats", "3", "--warmup", "1",
            "--validate", "4", "--out", str(out), "--quiet"]  # fmt: skip
    assert profile_main(argv) == 0
    table = LatencyTable.load(out)
    assert table.meta["threads"] == 1 and table.mode == "warm"
    assert table.predict(random_arch("edge", 5)) > 0
    assert set(table.validation) >= {"plain_sum", "corrected", "samples"}
    samples = table.validation["samples"]
    assert len(samples) == 4 and all(s["p50_us"] > 0 and len(s["ops"]) == 14 for s in samples)
    assert profile_main(argv) == 2  # refuses to overwrite without --force


def test_search_refuses_infeasible_budget_and_foreign_table(tmp_path, capsys):
    lut = tmp_path / "t.json"
    argv = ["--backend", "torch", "--preset", "edge", "--repeats", "2", "--warmup", "1",
            "--out", str(lut), "--quiet"]  # fmt: skip
    assert profile_main(argv) == 0
    fastest, _ = LatencyTable.load(lut).fastest()
    capsys.readouterr()
    out = tmp_path / "s"
    base = [
        "search-rl",
        "--lut",
        str(lut),
        "--out",
        str(out),
        "--steps",
        "40",
        "--num-envs",
        "4",
        "--no-recalibrate",  # judged by the table as profiled (tests/hw/test_drift.py: drift)
    ]
    assert a2d([*base, "--preset", "edge", "--latency-budget-ms", str(fastest / 2)]) == 2
    err = capsys.readouterr().err
    assert "below the fastest architecture" in err and f"{fastest:.3f} ms" in err
    assert a2d([*base, "--preset", "paper", "--latency-budget-ms", "5"]) == 2
    assert "not the 'paper' preset" in capsys.readouterr().err
    assert not out.exists()
    # without --preset the table says which space it was profiled for
    from a2d_edge.search.config import SearchConfig
    from a2d_edge.search.rl import prepare

    for method in ("rl", "distill"):
        cfg = SearchConfig(method=method, lut=str(lut), recalibrate=False)
        space, table = prepare(cfg, say=False)
        assert space == get_space("edge") and table is not None
    assert prepare(SearchConfig(method="rl"), say=False)[0] == get_space("paper")


def test_search_repairs_to_the_budget(tmp_path):
    lut = tmp_path / "t.json"
    assert profile_main(["--backend", "torch", "--preset", "edge", "--repeats", "3",
                         "--warmup", "1", "--out", str(lut), "--quiet"]) == 0  # fmt: skip
    fastest, _ = LatencyTable.load(lut).fastest()
    budget = fastest * 1.15
    out = tmp_path / "s"
    argv = ["search-rl",
            "--preset", "edge", "--lut", str(lut), "--latency-budget-ms", str(budget),
            "--out", str(out), "--steps", "40", "--num-envs", "4", "--mode", "hard",
            "--eval-every", "0", "--no-progress", "--no-recalibrate"]  # fmt: skip
    assert a2d(argv) == 0
    info = json.loads((out / "search.json").read_text())
    lat = info["latency"]
    assert lat["repaired"] is True and lat["predicted_ms"] <= budget
    assert "recalibration" not in lat  # --no-recalibrate: the table as profiled
    assert LatencyTable.load(lut).predict(json.loads((out / "arch.json").read_text())) <= budget
    assert "measured_ms" in lat  # the table was measured on this machine: timed here
    m = lat["measured"]  # in one sitting, its rounds kept (no teacher: no ratio)
    assert m["rounds"] == 5 and len(m["agent"]["rounds_ms"]) == 5
    assert m["agent"]["fastest_ms"] == lat["measured_ms"]
    assert m["judgement"]["status"] in ("within budget", "within noise", "over budget")


def test_drift_factor_is_the_median_ratio():
    import numpy as np

    from a2d_edge.hw.tablebase import drift_factor

    measured = np.array([110.0, 220.0, 330.0, 1000.0])
    predicted = np.array([100.0, 200.0, 300.0, 100.0])  # one outlier (x10) does not move it
    assert drift_factor(measured, predicted) == pytest.approx(1.1)


def test_drift_fit_hand_computed():
    import numpy as np

    from a2d_edge.hw.tablebase import drift_fit

    predicted = np.array([100.0, 200.0, 300.0, 400.0, 500.0])
    # a wake-up that got 30 us cheaper and ops 10% slower: 1.1 * p - 30, one outlier (x3)
    measured = 1.1 * predicted - 30.0
    measured[2] = 900.0
    assert drift_fit(measured, predicted) == pytest.approx((1.1, -30.0))
    narrow = np.array([100.0, 101.0, 102.0, 103.0])  # spans 3%: a ratio is all it can tell
    assert drift_fit(narrow * 1.2, narrow) == pytest.approx((1.2, 0.0))


def test_recalibrate_rescales_a_table_in_place(tmp_path, capsys):
    out = tmp_path / "t.json"
    before = _profiled(out, 4)
    arch = random_arch("edge", 3)
    assert profile_main(["--recalibrate", str(out), "--archs", "6", "--repeats", "3"]) == 0
    assert "median ratio" in capsys.readouterr().out
    after = LatencyTable.load(out)
    rec = after.meta["recalibration"]
    assert rec["archs"] == 6 and rec["drift_factor"] > 0
    fit = rec["drift_fit"]
    assert after.predict(arch) == pytest.approx(
        before.predict(arch) * fit["scale"] + fit["offset_us"] / 1000
    )
    assert after.entries == before.entries  # only the correction moves
    assert profile_main(["--recalibrate", str(tmp_path / "nope.json")]) == 2


def test_the_documented_entry_point_loads_a_shipped_table():
    import a2d_edge.hw

    path = "latency_tables/amd-epyc-2c-avx2-onnxruntime-int8-edge-inloop.json"
    table = a2d_edge.hw.LatencyTable.load(path)
    assert isinstance(table, LatencyTable) and a2d_edge.hw.LatencyTable is LatencyTable
    assert table.device["slug"] == "amd-epyc-2c-avx2" and len(table.entries) == 45
    ms = table.predict(random_arch("edge", 0))
    assert isinstance(ms, float) and 0.0 < ms < 100.0
    with pytest.raises(AttributeError):
        a2d_edge.hw.NoSuchThing  # noqa: B018


def test_judged_against_the_floor_hand_computed():
    from a2d_edge.hw.profile import judge

    good = {"mape_pct": 3.0, "within_10pct": 0.975}
    floor = {"mape_pct": 2.5, "within_10pct": 1.0}
    v = judge(good, floor, tau=0.93)
    assert v["mape_over_floor"] == pytest.approx(1.2) and v["meets"]
    v = judge({"mape_pct": 4.0, "within_10pct": 0.9}, floor, tau=0.85)
    assert v["mape_over_floor"] == pytest.approx(1.6)
    assert v["checks"] == {"kendall_tau": False, "within_10pct": False, "mape_over_floor": False}
    assert not v["meets"]


def test_per_op_type_factors_hand_computed():
    # conv_k3 runs at 0.8x its alone-time inside a network: (20 + 5 + 10) + 0.8 * 100 + 1
    table = _tiny_table(Correction(1.0, 0.0, 0.0, {"conv_k3": 0.8}))
    arch = searched_arch(TINY, ["conv_k3", "skip"])
    assert table.weighted_us(arch) == pytest.approx(35 + 80 + 1)
    assert table.predict(arch) == pytest.approx(0.116)
    assert table.predict_plain(arch) == pytest.approx(0.136)  # the plain sum is untouched
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    assert float(table.expected(w)) == pytest.approx(table.predict(arch))
    # the fastest arch by the corrected costs: a per-op term of -120 us makes conv_k3 "cheaper"
    # than an identity skip (0.8 * 100 - 120 < 1), and fastest() follows the corrected model
    odd = _tiny_table(Correction(1.0, 0.0, -120.0, {"conv_k3": 0.8}))
    ms, fastest_arch = odd.fastest()
    ops = fastest_arch["ops"]
    assert ops == ["conv_k3", "conv_k3"] and ms == pytest.approx((35 + 2 * (80 - 120)) / 1000)


def test_the_per_op_type_fit_recovers_its_factors():
    import numpy as np

    from a2d_edge.hw.profile import fit_correction_by_op

    rng = np.random.default_rng(0)
    sums = rng.uniform(0, 300, (30, 3))
    n_ops = rng.integers(2, 14, 30).astype(float)
    y = sums @ np.array([0.7, 1.2, 1.0]) - 4.0 * n_ops + 25.0
    c = fit_correction_by_op(sums, n_ops, y, ("a", "b", "c"), ridge=1e-9)
    assert c.op_scale == pytest.approx({"a": 0.7, "b": 1.2, "c": 1.0}, abs=1e-6)
    assert (c.scale, c.per_op_us, c.offset_us) == pytest.approx((1.0, -4.0, 25.0), abs=1e-4)
    unused = fit_correction_by_op(np.c_[sums[:, :2], np.zeros(30)], n_ops, y - sums[:, 2],
                                  ("a", "b", "c"), ridge=1e-3)  # fmt: skip
    assert unused.op_scale["c"] == pytest.approx(1.0)  # no arch used it: the ridge keeps 1
    # one fitted arch (a2d-profile --validate 2): n_ops and the offset are collinear, a fit
    # still comes back (it was a LinAlgError traceback)
    one = fit_correction_by_op(np.array([[100.0, 200.0, 50.0]]), np.array([4.0]),
                               np.array([300.0]), ("a", "b", "c"))  # fmt: skip
    assert np.isfinite([one.per_op_us, one.offset_us, *one.op_scale.values()]).all()


def _profiled(out, validate: int):  # type: ignore[no-untyped-def]
    """A tiny torch table of the edge space (2 repeats), validated on `validate` archs."""
    argv = ["--backend", "torch", "--preset", "edge", "--repeats", "2", "--warmup", "1",
            "--validate", str(validate), "--out", str(out), "--quiet"]  # fmt: skip
    assert profile_main(argv) == 0
    return LatencyTable.load(out)


def test_refit_chooses_on_the_held_out_half_and_keeps_the_samples(tmp_path, capsys):
    out = tmp_path / "t.json"
    made = _profiled(out, 8)
    v = made.validation
    assert set(v["candidates"]) == {"scale", "per-op-type"} and len(v["samples"]) == 8
    best = min(v["candidates"], key=lambda k: v["candidates"][k]["mape_pct"])
    assert v["correction_model"] == best and v["corrected"] == v["candidates"][best]
    capsys.readouterr()
    again = tmp_path / "again.json"
    assert profile_main(["--refit", str(out), "--out", str(again)]) == 0
    assert "correction" in capsys.readouterr().out
    refit = LatencyTable.load(again)
    assert refit.correction == made.correction and refit.validation["samples"] == v["samples"]
    bare = tmp_path / "bare.json"
    data = json.loads(out.read_text())
    data["validation"] = {}
    bare.write_text(json.dumps(data))
    assert profile_main(["--refit", str(bare)]) == 2
    assert "holds no timed archs" in capsys.readouterr().err


SHIPPED = sorted(Path(__file__).resolve().parents[2].glob("latency_tables/*.json"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_table_loads_and_covers_a_preset(path):
    """A shipped table is of a known preset (by its name too) and predicts that space's
    cheapest arch and a random one in a plausible range."""
    from a2d_edge.hw.table import load_table
    from a2d_edge.hw.widthtable import WidthTable
    from a2d_edge.nets.widths import WIDTH_SPACES

    table = load_table(path)
    preset = table.space.name
    assert path.stem.startswith(table.device["slug"]) and f"-{preset}" in path.stem
    if isinstance(table, WidthTable):  # every arch of its width space, timed whole
        assert WIDTH_SPACES[preset] == table.space and not table.missing()
        fastest, arch = table.fastest()
        assert 0.0 < fastest <= table.predict(table.space.arch(table.space.widest)) < 100.0
        assert table.predict(arch) == fastest
        return
    assert SPACES[preset] == table.space
    assert path.stem.startswith(table.device["slug"])
    fastest, fastest_arch = table.fastest()
    ops = fastest_arch["ops"]
    assert 0.0 < fastest <= table.predict(random_arch(preset, 0)) < 100.0
    assert table.predict(searched_arch(table.space, ops)) == pytest.approx(fastest)
