"""The one update step: what it steps, clips and returns, against a hand-written equivalent."""

from __future__ import annotations

import copy

import pytest
import torch

from a2d_edge.nets import build_agent, load_arch
from a2d_edge.rl.config import TrainConfig
from a2d_edge.rl.objective import a2d_loss, batched_forward
from a2d_edge.rl.rollout import Rollout
from a2d_edge.rl.update import UpdateStats, a2d_update
from a2d_edge.utils.dist import DistInfo

T, N, A = 5, 2, 6


def _rollout() -> Rollout:
    g = torch.Generator().manual_seed(3)
    return Rollout(
        logits=torch.empty(0),
        values=torch.empty(0),
        actions=torch.randint(0, A, (T * N,), generator=g),
        rewards=torch.randint(-1, 2, (T, N), generator=g).float(),
        dones=(torch.rand(T, N, generator=g) < 0.2).float(),
        last_obs=torch.randint(0, 256, (N, 4, 84, 84), dtype=torch.uint8, generator=g),
        obs=torch.randint(0, 256, (T * N, 4, 84, 84), dtype=torch.uint8, generator=g),
    )


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_agent(load_arch("nature"), A)


def test_it_takes_the_step_written_out_by_hand() -> None:
    cfg = TrainConfig()
    a, b = _model(), _model()
    opt_a = torch.optim.RMSprop(a.parameters(), lr=1e-3)
    opt_b = torch.optim.RMSprop(b.parameters(), lr=1e-3)
    stats = a2d_update(forward=a, ro=_rollout(), cfg=cfg, teacher=None, zero=[opt_a],
                       step=[opt_a], average=a.parameters(), clip=a.parameters(),
                       dist=DistInfo())  # fmt: skip
    ro = _rollout()  # by hand, as the trainer did before this function existed
    batched_forward(b, ro, False)
    with torch.no_grad():
        _, last = b(ro.last_obs)
    total, scalars = a2d_loss(cfg, ro, last.float(), None)
    opt_b.zero_grad()
    total.backward()
    norm = torch.nn.utils.clip_grad_norm_(b.parameters(), cfg.max_grad_norm)
    opt_b.step()
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb), name
    assert stats.grad_norm == pytest.approx(float(norm))
    assert stats.scalars() == pytest.approx({**scalars, "grad_norm": float(norm)})


def test_extra_terms_enter_the_objective_and_the_stats() -> None:
    cfg = TrainConfig()
    model = _model()
    weight = next(model.parameters())
    stats = a2d_update(forward=model, ro=_rollout(), cfg=cfg, teacher=None, zero=[], step=[],
                       average=model.parameters(), clip=None, dist=DistInfo(),
                       extra=lambda: {"cost/l2": 0.5 * (weight**2).sum()})  # fmt: skip
    with_term = weight.grad.detach().clone()
    plain = copy.deepcopy(_model())
    a2d_update(forward=plain, ro=_rollout(), cfg=cfg, teacher=None, zero=[], step=[],
               average=plain.parameters(), clip=None, dist=DistInfo())  # fmt: skip
    torch.testing.assert_close(with_term - next(plain.parameters()).grad, weight.detach())
    assert stats.grad_norm is None and "grad_norm" not in stats.scalars()  # nothing clipped
    assert stats.extra["cost/l2"] == pytest.approx(float(0.5 * (weight.detach() ** 2).sum()))


def test_nothing_steps_unless_asked() -> None:
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    stats = a2d_update(forward=model, ro=_rollout(), cfg=TrainConfig(), teacher=None, zero=[opt],
                       step=[], average=model.parameters(), clip=None, dist=DistInfo())  # fmt: skip
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert isinstance(stats, UpdateStats) and stats.loss == stats.scalars()["loss/total"]
