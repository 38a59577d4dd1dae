import json
import math

import pytest

from a2d_edge.cli import main
from a2d_edge.nets import get_space, load_arch
from a2d_edge.search.rl import load_search_checkpoint
from a2d_edge.utils.logging import read_jsonl


def _args(out, steps, *extra):
    return [
        "search-rl", "--env", "ALE/Pong-v5", "--preset", "edge", "--num-envs", "4",
        "--steps", str(steps), "--out", str(out), "--eval-every", "0", "--checkpoint-every", "40",
        "--log-every", "20", "--no-progress", *extra,
    ]  # fmt: skip


def test_huge_flops_weight_derives_the_cheapest_op_everywhere(tmp_path):
    out = tmp_path / "s"
    # 2 envs x 5 steps per update: 300 alpha updates; Adam moves each logit ~lr per update
    argv = _args(out, 3000, "--mode", "hard", "--flops-weight", "1e6", "--alpha-lr", "0.2")
    argv[argv.index("--num-envs") + 1] = "2"
    assert main(argv) == 0
    arch = load_arch(str(out / "arch.json"))
    assert arch["ops"] == ["skip"] * 14
    info = json.loads((out / "search.json").read_text())
    assert info["derived_flops"] == info["space_flops"]["min"]
    assert info["derived_flops"] == get_space("edge").arch_flops(["skip"] * 14, 6)


def test_alpha_warmup_trains_weights_only_then_searches(tmp_path):
    """During --alpha-warmup the logits stay uniform (no cost, no alpha rollout); then they move.

    Bi-level: a warm-up update is one rollout (4 envs x 5 steps), a searching one two."""
    out = tmp_path / "s"
    extra = ["--mode", "hard", "--optimization", "bi-level", "--flops-weight", "1e6",
             "--alpha-lr", "0.2", "--alpha-warmup", "80"]  # fmt: skip
    assert main(_args(out, 160, *extra)) == 0
    rows = [r for r in read_jsonl(out / "metrics.jsonl") if r["kind"] == "train"]
    assert [(r["step"], r["alpha_active"]) for r in rows] == [
        (20, 0.0),
        (40, 0.0),
        (60, 0.0),
        (80, 0.0),
        (120, 1.0),
        (160, 1.0),
    ]
    uniform = math.log(9)
    assert all(abs(r["alpha_entropy"] - uniform) < 1e-6 for r in rows[:4])
    assert rows[-1]["alpha_entropy"] < uniform - 1e-3
    info = json.loads((out / "search.json").read_text())
    assert info["alpha_warmup"] == 80 and info["step"] == 160


@pytest.mark.parametrize(
    "extra", [["--mode", "soft"], ["--mode", "hard", "--optimization", "bi-level"]]
)
def test_search_modes_run_and_write_outputs(extra, tmp_path, capsys):
    out = tmp_path / "s"
    assert main(_args(out, 80, "--eval-every", "80", "--eval-episodes", "1", *extra)) == 0
    info = json.loads((out / "search.json").read_text())
    assert info["schema"] == "a2d.search/1" and len(info["probabilities"]) == 14
    assert info["trajectory"] and "score_mean" in info["trajectory"][-1]
    rows = [r for r in read_jsonl(out / "metrics.jsonl") if r["kind"] == "train"]
    assert all("tau" in r and "alpha_entropy" in r for r in rows)
    assert "derived" in capsys.readouterr().out


def test_retrain_the_derived_arch(tmp_path):
    out = tmp_path / "s"
    assert main(_args(out, 40, "--mode", "hard")) == 0
    run = tmp_path / "retrain"
    argv = ["train", "--arch", str(out / "arch.json"), "--num-envs", "4", "--steps", "40",
            "--out", str(run), "--eval-every", "0", "--no-progress"]  # fmt: skip
    assert main(argv) == 0


def test_search_resumes_after_sigkill(tmp_path, kill_when):
    out = tmp_path / "s"
    ckpt = out / "supernet.pt"
    kill_when(
        _args(out, 400, "--mode", "hard"),
        lambda: ckpt.exists() and load_search_checkpoint(ckpt)["step"] >= 80,
    )
    killed = load_search_checkpoint(out / "supernet.pt")["step"]
    assert 80 <= killed < 400
    assert main(["search", "--resume", str(out), "--no-progress"]) == 0
    assert load_search_checkpoint(out / "supernet.pt")["step"] == 400
    assert json.loads((out / "search.json").read_text())["step"] == 400


def test_resuming_a_train_run_as_a_search_is_refused(tmp_path, tiny_train_args, capsys):
    run = tmp_path / "t"
    assert main(tiny_train_args(run, steps=20)) == 0
    capsys.readouterr()
    assert main(["search", "--resume", str(run)]) == 2
    assert "not an `a2d search` run" in capsys.readouterr().err
