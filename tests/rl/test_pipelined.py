"""`--update pipelined`: the next rollout is collected with the weights from before the update
that runs beside it (a policy lag of exactly one update), and nothing else changes."""

import copy

import pytest
import torch

from a2d_edge.cli import main
from a2d_edge.rl import trainer
from a2d_edge.sources.checkpoint import load_checkpoint


@pytest.mark.parametrize("precision", ["fp32", "bf16"])  # pinned: `auto` measures the host
def test_first_update_matches_the_batched_one(tmp_path, tiny_train_args, precision):
    # One update (4 envs x 5 steps): the same rollout, the same weights, the same step.
    for mode in ("batched", "pipelined"):
        extra = ["--update", mode, "--precision", precision]
        assert main(tiny_train_args(tmp_path / mode, steps=20, extra=extra)) == 0
    a = load_checkpoint(tmp_path / "batched" / "agent.pt")["model"]
    b = load_checkpoint(tmp_path / "pipelined" / "agent.pt")["model"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_the_next_rollout_is_collected_with_the_weights_before_the_update(
    tmp_path, tiny_train_args, monkeypatch
):
    seen = {}

    def two_updates(loop, command):
        for _ in range(2):
            before = copy.deepcopy(loop.model)
            loop.update()
            ro = loop.pending  # collected while the update ran
            first = ro.obs[:4]  # step 0 of the 4 envs
            with torch.no_grad():
                old, _ = before(first)
                new, _ = loop.model(first)
            seen.setdefault("old", []).append(float((ro.logits[:4] - old).abs().max()))
            seen.setdefault("new", []).append(float((ro.logits[:4] - new).abs().max()))
            for a, b in zip(loop.actor.parameters(), loop.model.parameters(), strict=True):
                assert torch.equal(a, b)  # the actor takes the new weights for the next one

    monkeypatch.setattr(trainer, "run_loop", two_updates)
    # fp32: `auto` is bf16 on a host with native bf16, whose actor holds a bf16 copy of the
    # weights (test_the_bf16_actor_is_the_model_cast_to_bf16), and its logits differ by rounding
    extra = ["--update", "pipelined", "--precision", "fp32"]
    args = tiny_train_args(tmp_path / "run", steps=200, extra=extra)
    assert main([*args, "--lr", "1e-2"]) == 0
    assert max(seen["old"]) < 1e-5  # the pre-update weights made those logits
    assert min(seen["new"]) > 1e-4  # and the update changed them


def test_the_bf16_actor_is_the_model_cast_to_bf16(tmp_path, tiny_train_args, monkeypatch):
    seen = []

    def one_update(loop, command):
        loop.update()
        for a, b in zip(loop.actor.parameters(), loop.model.parameters(), strict=True):
            seen.append((a.dtype, torch.equal(a, b.detach().to(a.dtype))))

    monkeypatch.setattr(trainer, "run_loop", one_update)
    extra = ["--update", "pipelined", "--precision", "bf16"]
    assert main(tiny_train_args(tmp_path / "run", steps=40, extra=extra)) == 0
    assert seen and all(ok for _, ok in seen)
    assert {dtype for dtype, _ in seen} <= {torch.bfloat16, torch.float32}


def test_an_error_in_the_learner_thread_reaches_the_caller(tmp_path, tiny_train_args, monkeypatch):
    def broken(self, ro, bf16, keep_graph):
        raise RuntimeError("learner broke")

    monkeypatch.setattr(trainer.TrainLoop, "_learn", broken)
    with pytest.raises(RuntimeError, match="learner broke"):
        main(tiny_train_args(tmp_path / "run", steps=40, extra=["--update", "pipelined"]))


def test_search_refuses_the_pipelined_update(tmp_path, capsys):
    # a2d search has no --update flag; a settings file shared with a2d train can still set it
    (tmp_path / "c.yaml").write_text("update: pipelined\n")
    argv = ["search-rl",
            "--preset", "edge", "--mode", "hard", "--steps", "40", "--num-envs", "2",
            "--config", str(tmp_path / "c.yaml"), "--no-progress",
            "--out", str(tmp_path / "s")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "--update pipelined is for a2d train" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_learner_threads_are_refused_with_the_pipeline(tmp_path, tiny_train_args, capsys):
    extra = ["--update", "pipelined", "--learner-threads", "2"]
    assert main(tiny_train_args(tmp_path / "run", steps=40, extra=extra)) == 2
    err = capsys.readouterr().err.strip()
    assert "drop --learner-threads" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()
