import json

import pytest

from tools.pooled_scores import main, pooled_rows


def _run(series, name, mean, std, episodes):
    run = series / name
    run.mkdir(parents=True)
    score = {"mean": mean, "std": std, "episodes": episodes}
    (run / "result.json").write_text(json.dumps({"score": score}))


def test_pools_each_run_with_its_extra_episodes_and_compares_in_standard_errors(tmp_path, capsys):
    series = tmp_path / "kept"
    _run(series, "G/search/s0", 2.0, 1.0, 2)  # episodes [1, 3]
    _run(series, "G/base/s0", 5.0, 0.0, 2)
    extra = {"results": {"G/search/s0": {"mean": 6.0, "std": 0.0, "episodes": 1}}}  # [6]
    (series / "eval100.json").write_text(json.dumps(extra))
    rows = pooled_rows(series)
    final, more, pooled = rows["G/search/s0"]
    assert final == (2.0, 1.0, 2) and more == (6.0, 0.0, 1)
    assert pooled[0] == pytest.approx(10 / 3) and pooled[2] == 3
    assert rows["G/base/s0"] == ((5.0, 0.0, 2), None, (5.0, 0.0, 2))
    argv = [str(series), "--against", "G/search/s0", "--teacher-score", "11", "--random-score", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "G/base/s0: final 5.0 ± 0.0 (2), extra -, pooled 5.0 ± 0.0 (2), normalised 40.0%" in out
    se = ((114 / 27) / 3) ** 0.5  # the pooled sample's std²/n; the base's std is 0
    assert f"({(10 / 3 - 5) / se:+.2f} SE)" in out


def test_bad_inputs_are_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "none")]) == 2
    assert main([str(tmp_path)]) == 2  # no result.json
    _run(tmp_path, "G/a/s0", 1.0, 0.0, 1)
    assert main([str(tmp_path), "--against", "G/b/s0"]) == 2
    (tmp_path / "eval100.json").write_text("{not json")
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("pooled_scores: ") for line in err)
