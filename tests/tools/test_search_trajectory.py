import json

from tools.search_trajectory import main, op_counts, rows


def _search(root, name, points, ops):
    run = root / "Pong" / name
    run.mkdir(parents=True)
    traj = [
        {
            "step": s,
            "tau": 5.0,
            "alpha_entropy": h,
            "expected_mflops": e,
            "derived_mflops": d,
            "score_mean": sc,
            "score_std": 0.0,
            "wall_time": 1.0,
        }
        for s, sc, d, e, h in points
    ]
    data = {
        "optimization": "one-level",
        "distill": "none",
        "mode": "hard",
        "preset": "edge",
        "step": points[-1][0],
        "derived": {"ops": ops},
        "trajectory": traj,
    }
    (run / "search.json").write_text(json.dumps(data))
    return data


def test_rows_and_op_counts_read_the_trajectory(tmp_path):
    s = _search(tmp_path, "a", [(50000, -20.4, 5.7833, 13.76, 2.1724)], ["skip", "conv_k3", "skip"])
    assert rows(s) == [["50,000", "-20.4", "5.78", "13.76", "2.17", "5.00"]]
    assert op_counts(s) == "2× skip, 1× conv_k3"


def test_prints_a_table_per_search_and_draws_the_figure(tmp_path, capsys):
    _search(tmp_path, "a", [(100, -21.0, 2.0, 9.0, 2.2), (200, -19.0, 1.0, 8.0, 2.0)], ["skip"])
    _search(tmp_path, "b", [(100, -20.0, 3.0, 9.0, 2.2)], ["conv_k5"])
    png = tmp_path / "fig.png"
    assert main([str(tmp_path), "--figure", str(png)]) == 0
    out = capsys.readouterr().out
    assert out.count("| step |") == 2 and "| 200 | -19.0 | 1.00 | 8.00 | 2.00 | 5.00 |" in out
    assert png.stat().st_size > 1000


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    (tmp_path / "search.json").write_text("[1]")
    assert main([str(tmp_path)]) == 2
    assert "not an a2d search summary" in capsys.readouterr().err


def test_a_search_json_without_the_fields_is_one_line(tmp_path, capsys):
    _search(tmp_path, "ok", [(100, -21.0, 2.0, 9.0, 2.2)], ["skip"])
    run = tmp_path / "old"
    run.mkdir()
    (run / "search.json").write_text(json.dumps({"trajectory": [{"step": 1}], "step": 1}))
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lacks alpha_entropy, derived, derived_mflops" in err
