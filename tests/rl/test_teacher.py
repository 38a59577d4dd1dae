import math

import pytest
import torch

from a2d_edge.cli import main
from a2d_edge.errors import A2DError
from a2d_edge.nets import build_agent, load_arch
from a2d_edge.rl.teacher import MODES, Teacher, actor_kl, critic_mse, distill_losses
from a2d_edge.sources.checkpoint import load_checkpoint, save_checkpoint
from a2d_edge.utils.logging import read_jsonl


def test_kl_hand_computed_and_direction():
    teacher = torch.log(torch.tensor([[0.5, 0.5]]))
    student = torch.log(torch.tensor([[0.25, 0.75]]))
    expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)  # KL(T || S)
    reverse = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)  # KL(S || T)
    assert actor_kl(student, teacher).item() == pytest.approx(expected)
    assert actor_kl(student, teacher).item() != pytest.approx(reverse)


def test_kl_is_a_batch_mean():
    teacher = torch.log(torch.tensor([[0.5, 0.5], [0.5, 0.5]]))
    student = torch.log(torch.tensor([[0.25, 0.75], [0.5, 0.5]]))
    one = 0.5 * math.log(2) + 0.5 * math.log(2 / 3)
    assert actor_kl(student, teacher).item() == pytest.approx(one / 2)


def test_mse_hand_computed():
    assert critic_mse(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 1.0])).item() == pytest.approx(
        0.5 * (1 + 4) / 2
    )


def test_zero_when_student_equals_teacher():
    logits = torch.randn(7, 6)
    values = torch.randn(7)
    terms = distill_losses("actor-critic", logits, values, logits.clone(), values.clone())
    assert terms.kl.item() == pytest.approx(0.0, abs=1e-6)
    assert terms.mse.item() == 0.0


@pytest.mark.parametrize("mode", MODES)
def test_mode_weights(mode):
    s_logits, t_logits = torch.randn(5, 4), torch.randn(5, 4)
    s_v, t_v = torch.randn(5), torch.randn(5)
    terms = distill_losses(mode, s_logits, s_v, t_logits, t_v, 0.1, 1e-3)
    kl, mse = actor_kl(s_logits, t_logits), critic_mse(s_v, t_v)
    expected = {
        "none": 0.0,
        "actor": 0.1 * kl,
        "actor-reuse-critic": 0.1 * kl,
        "actor-critic": 0.1 * kl + 1e-3 * mse,
    }[mode]
    assert float(terms.total) == pytest.approx(float(expected), rel=1e-6)


def test_unknown_mode_refused():
    with pytest.raises(A2DError, match="unknown distillation mode"):
        distill_losses(
            "critic", torch.zeros(1, 2), torch.zeros(1), torch.zeros(1, 2), torch.zeros(1)
        )


def _teacher_ckpt(path, arch="resnet14", env_id="ALE/Pong-v5", n_actions=6):
    torch.manual_seed(3)
    model = build_agent(load_arch(arch), n_actions)
    save_checkpoint(
        path,
        {
            "arch": load_arch(arch),
            "env_id": env_id,
            "obs_shape": [4, 84, 84],
            "n_actions": n_actions,
            "step": 0,
            "model": model.state_dict(),
        },
    )
    return model


def test_teacher_is_frozen_and_gets_no_gradient(tmp_path):
    _teacher_ckpt(tmp_path / "t.pt")
    teacher = Teacher.load(tmp_path / "t.pt", "ALE/Pong-v5", 6)
    obs = torch.randint(0, 256, (4, 4, 84, 84), dtype=torch.uint8)
    out = teacher.outputs(obs[:3], obs[3:])
    assert not out.logits.requires_grad and not teacher.model.training
    student = build_agent(load_arch("nature"), 6)
    s_logits, s_values = student(obs[:3])
    distill_losses("actor-critic", s_logits, s_values, out.logits, out.values).total.backward()
    assert all(p.grad is None for p in teacher.model.parameters())
    assert any(p.grad is not None for p in student.parameters())


@pytest.mark.parametrize("mode", ["actor", "actor-reuse-critic", "actor-critic"])
def test_train_with_each_mode_leaves_teacher_untouched(mode, tmp_path, tiny_train_args):
    _teacher_ckpt(tmp_path / "t.pt")
    before = (tmp_path / "t.pt").read_bytes()
    run = tmp_path / mode
    argv = tiny_train_args(
        run, steps=80, extra=["--teacher", str(tmp_path / "t.pt"), "--distill", mode]
    )
    assert main(argv) == 0
    assert (tmp_path / "t.pt").read_bytes() == before
    rows = [r for r in read_jsonl(run / "metrics.jsonl") if r["kind"] == "train"]
    assert rows and all(math.isfinite(r["distill/kl"]) for r in rows)
    assert load_checkpoint(run / "agent.pt")["distill"] == mode


@pytest.mark.parametrize(
    ("teacher_kw", "message"),
    [
        ({"env_id": "ALE/Breakout-v5", "n_actions": 4}, "not on ALE/Pong-v5"),
        ({"n_actions": 4}, "has 4 actions but ALE/Pong-v5 has 6"),
    ],
)
def test_wrong_teacher_refused_before_anything_is_written(
    teacher_kw, message, tmp_path, tiny_train_args, capsys
):
    _teacher_ckpt(tmp_path / "t.pt", **teacher_kw)
    run = tmp_path / "run"
    assert main(tiny_train_args(run, extra=["--teacher", str(tmp_path / "t.pt")])) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not run.exists()


def test_distill_without_teacher_refused(tmp_path, tiny_train_args, capsys):
    assert main(tiny_train_args(tmp_path / "r", extra=["--distill", "actor"])) == 2
    assert "needs a --teacher" in capsys.readouterr().err
