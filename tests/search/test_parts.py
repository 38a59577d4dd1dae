"""The distillation search's pure parts, against hand-computed values."""

import math

import numpy as np
import pytest
import torch

from a2d_edge.errors import A2DError
from a2d_edge.hw.lut import repair_to_budget
from a2d_edge.nets import build_agent, get_space, searched_arch
from a2d_edge.rl.teacher import actor_kl
from a2d_edge.search.bn import bn_layers, recalibrate_bn
from a2d_edge.search.losses import agreement, distill_loss, tempered_kl, two_sided_latency
from a2d_edge.search.paths import largest_path, one_hot, sample_paths, smallest_path
from a2d_edge.search.replay import LabelledReplay, check_fits, frame_bytes
from a2d_edge.search.select import evolve
from a2d_edge.search.trainer import teacher_share_at


def test_two_sided_latency_by_hand():
    assert float(two_sided_latency(torch.tensor(0.5), 0.4)) == pytest.approx(0.25)
    assert float(two_sided_latency(torch.tensor(0.3), 0.4)) == pytest.approx(0.25)
    assert float(two_sided_latency(torch.tensor(0.4), 0.4)) == 0.0
    e = torch.tensor(0.3, requires_grad=True)
    two_sided_latency(e, 0.4).backward()
    assert float(e.grad) == pytest.approx(-1 / 0.4)  # below the budget it pushes up


def test_tempered_kl_by_hand():
    s, t = torch.tensor([[0.0, 0.0]]), torch.tensor([[math.log(3.0), 0.0]])
    # T = 1: KL([3/4, 1/4] || [1/2, 1/2]) = 3/4 ln(3/2) + 1/4 ln(1/2)
    by_hand = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert float(tempered_kl(s, t, 1.0)) == pytest.approx(by_hand)
    assert float(tempered_kl(s, t, 1.0)) == pytest.approx(float(actor_kl(s, t)))
    # T = 2: teacher softmax(ln3 / 2, 0) = [sqrt3, 1] / (sqrt3 + 1), times T^2 = 4
    p = math.sqrt(3) / (math.sqrt(3) + 1)
    kl2 = p * math.log(2 * p) + (1 - p) * math.log(2 * (1 - p))
    assert float(tempered_kl(s, t, 2.0)) == pytest.approx(4 * kl2)


def test_distill_loss_adds_the_weighted_value_term():
    s, t = torch.zeros(2, 3), torch.zeros(2, 3)
    total, kl, mse = distill_loss(
        s, torch.tensor([1.0, 3.0]), t, torch.tensor([0.0, 1.0]), 1.0, 2.0
    )
    assert float(kl) == 0.0 and float(mse) == pytest.approx(0.5 * (1 + 4) / 2)
    assert float(total) == pytest.approx(2 * 1.25)
    assert (
        agreement(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[2.0, 0.0], [2.0, 0.0]]))
        == 0.5
    )


def test_teacher_share_falls_linearly_to_zero():
    assert teacher_share_at(0, 0.5, 100) == 0.5
    assert teacher_share_at(50, 0.5, 100) == 0.25
    assert teacher_share_at(150, 0.5, 100) == 0.0
    assert teacher_share_at(0, 0.5, 0) == 0.0


def test_replay_is_a_ring_and_returns_what_was_stored():
    r = LabelledReplay(5, (1, 2, 2), 3)
    for i in range(3):
        obs = np.full((2, 1, 2, 2), i, np.uint8)
        r.add(obs, np.full((2, 3), float(i), np.float32), np.full(2, float(i), np.float32))
    assert len(r) == 5  # 6 frames into 5 slots: the oldest was overwritten
    obs, logits, values = r.all()
    assert sorted(obs[:, 0, 0, 0].tolist()) == [0, 1, 1, 2, 2]
    assert torch.equal(logits[:, 0], values) and obs.dtype == torch.uint8
    idx = r.indices(1000, np.random.default_rng(0))
    assert idx.min() == 0 and idx.max() == 4


def test_a_replay_larger_than_memory_is_refused_in_one_line():
    assert frame_bytes((4, 84, 84), 6) == 4 * 84 * 84 + 28
    check_fits(1000, (4, 84, 84), 6, available=10 * 2**30)
    with pytest.raises(A2DError, match=r"needs 2\.6 GiB.*lower --replay-size"):
        check_fits(100_000, (4, 84, 84), 6, available=4 * 2**30)


def test_sandwich_and_uniform_paths_cover_every_op_of_every_block():
    cost = np.asarray(get_space("fast").op_flops(), dtype=float)
    rng = np.random.default_rng(0)
    paths = sample_paths("sandwich", cost, 1, rng)
    assert paths[0] == largest_path(cost) and paths[1] == smallest_path(cost) and len(paths) == 3
    assert paths[0] == [1] * 5  # conv_k5 is the costliest op of every block of the fast space
    seen = np.zeros_like(cost, dtype=bool)
    for _ in range(100):
        for path in sample_paths("uniform", cost, 1, rng):
            seen[np.arange(5), path] = True
    assert seen.all()
    w = one_hot([2, 0], 3)
    assert w.tolist() == [[0, 0, 1], [1, 0, 0]]
    with pytest.raises(ValueError, match="path rule"):
        sample_paths("greedy", cost, 1, rng)


def test_bn_recalibration_runs_nothing_on_a_net_without_bn():
    from a2d_edge.nets import PRESETS

    agent = build_agent(PRESETS["nature"], 6).train()
    seen = []
    frames = [torch.zeros(2, 4, 84, 84, dtype=torch.uint8)]
    assert recalibrate_bn(agent, frames, forward=seen.append) == 0
    assert seen == [] and not agent.training


def test_bn_recalibration_changes_only_bn_buffers():
    torch.manual_seed(0)
    agent = build_agent(
        searched_arch(get_space("fast"), ["conv_k3", "ir_k3_e3", "skip", "conv_k5", "ir_k5_e1"]), 6
    )
    before = {k: v.clone() for k, v in agent.state_dict().items()}
    frames = [torch.randint(0, 256, (32, 4, 84, 84), dtype=torch.uint8) for _ in range(3)]
    assert recalibrate_bn(agent, frames) == 96
    assert not agent.training
    bn_keys = {
        f"{name}.{b}"
        for name, m in agent.named_modules()
        if m in bn_layers(agent)
        for b in ("running_mean", "running_var", "num_batches_tracked")
    }
    after = agent.state_dict()
    for k, v in after.items():
        if k in bn_keys:
            continue
        assert torch.equal(v, before[k]), k  # weights and biases untouched
    assert any(not torch.equal(after[k], before[k]) for k in bn_keys if "running_mean" in k)
    assert all(m.momentum == 0.1 for m in bn_layers(agent))  # restored
    # the plain average of the batches: a second pass over the same frames gives the same stats
    again = {k: v.clone() for k, v in after.items()}
    recalibrate_bn(agent, frames)
    for k in bn_keys:
        assert torch.allclose(agent.state_dict()[k].float(), again[k].float())


@pytest.mark.parametrize("seed", range(5))
def test_evolution_never_returns_an_arch_over_budget(seed):
    rng = np.random.default_rng(seed)
    ops = ("a", "b", "c", "d")
    lat = torch.tensor(rng.uniform(1, 100, (6, 4)))
    fixed = 50.0
    cheapest = fixed + float(lat.min(1).values.sum())
    budget = cheapest + rng.uniform(0.1, 0.6) * (float(lat.max(1).values.sum()) + fixed - cheapest)
    uniform = torch.full((6, 4), 0.25)

    def total(arch):
        return fixed + sum(float(lat[b, ops.index(o)]) for b, o in enumerate(arch))

    def repair(arch):
        return tuple(repair_to_budget(list(arch), ops, uniform, lat, fixed, budget)[0])

    judged = []

    def fitness(arch):
        judged.append(arch)
        return -total(arch)  # bigger is better here: the search must press against the budget

    evo = evolve(ops, 6, fitness, repair, 10, 6, rng)
    assert all(total(a) <= budget + 1e-9 for a in judged)
    assert total(evo.best) <= budget + 1e-9
    assert total(evo.best) >= 0.8 * budget  # it fills the budget instead of fleeing from it
    assert len(evo.history) == 6 and evo.judged == len(set(judged))


def test_evolution_ranks_every_arch_it_judged_and_rerank_keeps_the_dearer_judges_best():
    from a2d_edge.search.select import Judgement, rerank

    rng = np.random.default_rng(0)
    ops = ("a", "b", "c")
    cheap = {}

    def fitness(arch):
        cheap[arch] = float(rng.uniform())
        return cheap[arch]

    evo = evolve(ops, 3, fitness, lambda a: a, 6, 3, rng)
    assert sorted(evo.ranked) == sorted(cheap) and evo.ranked[0] == evo.best
    assert evo.judged > evo.history[-1]["judged"]  # the last generation's children too
    assert [cheap[a] for a in evo.ranked] == sorted(cheap.values())

    def dear(arch):  # the longer judgement prefers the third of the cheap ranking
        loss = 0.1 if arch == evo.ranked[2] else 0.5
        return Judgement(loss, loss, 0.0, 0.5)

    best, judged = rerank(evo.ranked, 4, dear)
    assert best == evo.ranked[2]
    assert [j["ops"] for j in judged] == [list(a) for a in evo.ranked[:4]]
    assert rerank(evo.ranked, 2, dear)[0] == evo.ranked[0]  # outside the top 2: not seen
    with pytest.raises(ValueError):
        rerank([], 3, dear)


def test_judging_a_path_leaves_the_supernet_as_it_was():
    from a2d_edge.nets.supernet import Supernet
    from a2d_edge.search.frames import Frames
    from a2d_edge.search.select import judge_path

    torch.manual_seed(0)
    net = Supernet(get_space("fast"), 6)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    frames = Frames(torch.randint(0, 256, (64, 4, 84, 84), dtype=torch.uint8), torch.randn(64, 6),
                    torch.randn(64))  # fmt: skip
    arch = net.space.from_genes((0, 6, 2, 6, 1))  # conv_k3 skip ir_k3_e1 skip conv_k5
    assert arch["ops"] == ["conv_k3", "skip", "ir_k3_e1", "skip", "conv_k5"]
    plain = judge_path(net, arch, frames, frames, 1.0, 1.0)
    adapted = judge_path(net, arch, frames, frames, 1.0, 1.0, adapt_steps=5, lr=1e-3)
    assert adapted.loss != plain.loss  # the adapted copy is judged, not the inherited weights
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k  # BN recalibration and adaptation ran on a copy
