"""RMSProp with TensorFlow semantics, against hand-computed steps."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from a2d_edge.errors import A2DError
from a2d_edge.rl.optim import RMSpropTF, make_optimizer


def _steps(opt_kind: str, n: int) -> list[float]:
    p = torch.nn.Parameter(torch.tensor([1.0]))
    opt = make_optimizer(opt_kind, [p], lr=0.1, alpha=0.9, eps=1e-5)
    out = []
    for _ in range(n):
        opt.zero_grad()
        (2.0 * p).sum().backward()  # gradient 2 every step
        opt.step()
        out.append(float(p))
    return out


def test_tf_form_matches_hand_computation() -> None:
    # v0 = 1; v1 = 0.9 + 0.1*4 = 1.3;  p1 = 1 - 0.1*2/sqrt(1.3 + 1e-5)
    # v2 = 0.9*1.3 + 0.4 = 1.57;        p2 = p1 - 0.1*2/sqrt(1.57 + 1e-5)
    assert _steps("rmsprop-tf", 2) == pytest.approx([0.8245891, 0.6649722], abs=1e-6)


def test_torch_form_differs_in_the_first_step() -> None:
    # torch: v1 = 0.1*4 = 0.4; p1 = 1 - 0.1*2/(sqrt(0.4) + 1e-5) = 0.683776...
    assert _steps("rmsprop", 1) == pytest.approx([0.6837775], abs=1e-6)


def test_state_round_trips_and_lr_groups_are_settable() -> None:
    p = torch.nn.Parameter(torch.ones(3))
    opt = RMSpropTF([p], lr=0.1)
    p.grad = torch.ones(3)
    opt.step()
    other = RMSpropTF([torch.nn.Parameter(torch.ones(3))], lr=0.1)
    other.load_state_dict(opt.state_dict())
    assert torch.equal(other.state_dict()["state"][0]["square_avg"], opt.state[p]["square_avg"])
    for group in opt.param_groups:
        group["lr"] = 0.0
    before = p.detach().clone()
    opt.step()
    assert torch.equal(p.detach(), before)


def test_unknown_optimizer_is_refused() -> None:
    with pytest.raises(A2DError, match="unknown optimizer"):
        make_optimizer("adam", [torch.nn.Parameter(torch.ones(1))], 0.1, 0.9, 1e-5)
    with pytest.raises(ValueError):
        RMSpropTF([torch.nn.Parameter(torch.ones(1))], lr=-1.0)


def test_runs_saved_before_the_optimizer_field_resume_with_torch_rmsprop(tmp_path: Path) -> None:
    from a2d_edge.rl.trainer import load_run_config
    from a2d_edge.utils.io import write_json

    write_json(tmp_path / "config.json", {"kind": "train", "config": {"env": "ALE/Pong-v5"}})
    assert load_run_config(tmp_path).optimizer == "rmsprop"
    write_json(
        tmp_path / "config.json",
        {"kind": "train", "config": {"env": "ALE/Pong-v5", "optimizer": "rmsprop-tf"}},
    )
    assert load_run_config(tmp_path).optimizer == "rmsprop-tf"
