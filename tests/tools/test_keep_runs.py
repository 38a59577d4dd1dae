import json

from tools.keep_runs import keep, main


def _run(root, name, steps, reached, search=False, lr=1e-3):
    run = root / "Pong" / name
    run.mkdir(parents=True)
    kind = "search" if search else "train"
    (run / "config.json").write_text(
        json.dumps({"kind": kind, "config": {"steps": steps, "lr": lr}})
    )
    rows = [{"step": s, "kind": "train"} for s in range(0, reached + 1, 50)]
    text = "\n".join(json.dumps(r) for r in rows) + '\n{"step": 99'  # a line cut by a kill
    (run / "metrics.jsonl").write_text(text)
    (run / "agent.pt").write_bytes(b"weights")
    if search:
        (run / "search.json").write_text(json.dumps({"step": reached}))
        (run / "arch.json").write_text("{}")
    return run


def test_keeps_finished_runs_and_only_their_report_files(tmp_path):
    src, dst = tmp_path / "runs", tmp_path / "kept"
    _run(src, "a-s0", 100, 100)
    _run(src, "a-s1", 100, 50)
    _run(src, "s-s0", 100, 100, search=True)
    kept, left = keep(src, dst)
    assert kept == ["Pong/a-s0", "Pong/s-s0"]
    assert left == ["Pong/a-s1: at step 50 of 100"]
    assert sorted(p.name for p in (dst / "Pong/a-s0").iterdir()) == ["config.json", "metrics.jsonl"]
    assert sorted(p.name for p in (dst / "Pong/s-s0").iterdir()) == [
        "arch.json", "config.json", "metrics.jsonl", "search.json"
    ]  # fmt: skip
    assert (dst / "Pong/a-s0/metrics.jsonl").read_text() == (
        src / "Pong/a-s0/metrics.jsonl"
    ).read_text()


def test_a_kept_run_of_other_settings_is_not_replaced(tmp_path, capsys):
    src, dst, other = tmp_path / "runs", tmp_path / "kept", tmp_path / "other"
    _run(dst, "a-s0", 100, 100, lr=1e-4)
    before = (dst / "Pong/a-s0/config.json").read_text()
    _run(src, "a-s0", 100, 100)
    kept, left = keep(src, dst)
    assert kept == [] and "other settings" in left[0]
    assert (dst / "Pong/a-s0/config.json").read_text() == before
    assert keep(src, dst, force=True)[0] == ["Pong/a-s0"]
    assert main([str(other), str(dst)]) == 2
    assert "is not a folder" in capsys.readouterr().err
    (src / "Pong/a-s0/config.json").write_text("{not json")
    assert main([str(src), str(dst)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("keep_runs: ") and len(err.splitlines()) == 1


def test_a_search_json_that_is_not_an_object_is_one_line(tmp_path, capsys):
    src = tmp_path / "runs"
    run = _run(src, "s-s0", 100, 100, search=True)
    (run / "search.json").write_text("[1]")
    assert main([str(src), str(tmp_path / "kept")]) == 2
    err = capsys.readouterr().err.strip()
    assert "is not an a2d search summary" in err and len(err.splitlines()) == 1


def _distill_run(root, name, command, finished):
    """A run folder as `a2d sweep` leaves one of the distillation pipeline (no top-level
    metrics; its phases' metrics in supernet/ and finish/, result.json when it is done)."""
    run = root / "RoadRunner" / name
    (run / "finish").mkdir(parents=True)
    config = {"steps": 20_000_000, "method": "distill", "finish_steps": 1000}
    (run / "config.json").write_text(json.dumps({"kind": command, "config": config}))
    (run / "finish" / "metrics.jsonl").write_text('{"step": 1000, "kind": "train"}\n')
    (run / "finish.pt").write_bytes(b"weights")
    if command == "search":
        (run / "supernet").mkdir()
        (run / "supernet" / "metrics.jsonl").write_text('{"step": 500, "kind": "train"}\n')
        (run / "search.json").write_text(json.dumps({"method": "distill"}))
        (run / "arch.json").write_text("{}")
    if finished:
        (run / "result.json").write_text(json.dumps({"score": {"mean": 13000.0}}))
        (run / "walls.json").write_text(json.dumps({"finish": 60.0}))
        (run / "agent.pt").write_bytes(b"weights")
    return run


def test_distillation_runs_are_kept_by_their_result_with_each_phase_metrics(tmp_path):
    src, dst = tmp_path / "runs", tmp_path / "kept"
    _distill_run(src, "search/s0", "search", finished=True)
    _distill_run(src, "baselines/arch=nature-thin-s0", "distill", finished=True)
    _distill_run(src, "baselines/arch=nature-quarter-s0", "distill", finished=False)
    kept, left = keep(src, dst)
    assert kept == ["RoadRunner/baselines/arch=nature-thin-s0", "RoadRunner/search/s0"]
    assert left == [
        "RoadRunner/baselines/arch=nature-quarter-s0: no result.json yet (its final evaluation)"
    ]
    files = sorted(str(p.relative_to(dst / "RoadRunner/search/s0")) for p in
                   (dst / "RoadRunner/search/s0").rglob("*") if p.is_file())  # fmt: skip
    assert files == [
        "arch.json", "config.json", "finish/metrics.jsonl", "result.json", "search.json",
        "supernet/metrics.jsonl", "walls.json",
    ]  # fmt: skip
    base = dst / "RoadRunner/baselines/arch=nature-thin-s0"
    assert not (base / "agent.pt").exists() and not (base / "finish.pt").exists()
    assert (base / "result.json").is_file() and (base / "finish/metrics.jsonl").is_file()
    from a2d_edge.experiments.report import load_run

    run = load_run(base)
    assert run is not None and run.result == {"score": {"mean": 13000.0}}
