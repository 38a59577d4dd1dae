import pytest
import torch

from a2d_edge.nets import get_space
from a2d_edge.nets.supernet import Supernet, as_agent, gumbel_weights, sample_gumbel
from a2d_edge.search.cost import FlopsTable, alpha_entropy, tau_at


def test_hard_samples_follow_softmax_alpha():
    torch.manual_seed(0)
    alpha = torch.tensor([[1.0, 0.0, -1.0, 2.0]])
    n = 20_000
    counts = torch.zeros(4)
    for _ in range(n):
        w = gumbel_weights(alpha, sample_gumbel((1, 4)), tau=5.0, hard=True)
        counts += w.detach()[0]
    assert torch.allclose(counts / n, torch.softmax(alpha, -1)[0], atol=0.015)


def test_hard_weights_are_one_hot_with_soft_gradient():
    alpha = torch.zeros(2, 3, requires_grad=True)
    w = gumbel_weights(alpha, sample_gumbel((2, 3)), tau=1.0, hard=True)
    assert torch.equal(w.detach().sum(-1), torch.ones(2))
    assert set(w.detach().flatten().tolist()) <= {0.0, 1.0}
    (w * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert alpha.grad is not None and alpha.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("step", "tau"), [(0, 5.0), (99_999, 5.0), (100_000, 4.9), (20_000_000, 5.0 * 0.98**200)]
)
def test_tau_schedule(step, tau):
    assert tau_at(step, 5.0, 0.98, 100_000) == pytest.approx(tau)


@pytest.mark.parametrize("preset", ["paper", "edge"])
def test_one_hot_soft_supernet_equals_the_derived_net(preset):
    torch.manual_seed(1)
    net = Supernet(get_space(preset), 6)
    net.alpha.data = torch.randn_like(net.alpha)
    # Give BatchNorm non-trivial statistics, then compare in eval mode.
    x = torch.randint(0, 256, (8, 4, 84, 84), dtype=torch.uint8)
    net.train()
    net(x, gumbel_weights(net.alpha, None, 1.0, hard=False))
    arch = net.derive()
    agent = as_agent(net, arch).eval()
    net.eval()
    one_hot = torch.zeros_like(net.alpha).scatter_(-1, net.alpha.argmax(-1, keepdim=True), 1e4)
    weights = gumbel_weights(one_hot, None, tau=1.0, hard=False)  # exactly one-hot
    logits_s, value_s = net(x, weights)
    logits_d, value_d = agent(x)
    assert torch.allclose(logits_s, logits_d, atol=1e-5)
    assert torch.allclose(value_s, value_d, atol=1e-5)


def test_parameter_groups_are_disjoint_and_complete():
    net = Supernet(get_space("edge"), 4)
    arch_ids = {id(p) for p in net.arch_parameters()}
    weight_ids = {id(p) for p in net.weight_parameters()}
    assert arch_ids.isdisjoint(weight_ids)
    assert arch_ids | weight_ids == {id(p) for p in net.parameters()}


def test_expected_flops_and_entropy():
    space = get_space("edge")
    table = FlopsTable(space, 6)
    one_hot = torch.zeros(space.n_blocks, len(space.ops))
    one_hot[:, space.ops.index("skip")] = 1
    assert float(table.expected(one_hot)) == space.arch_flops(["skip"] * 14, 6) == table.minimum()
    assert alpha_entropy(torch.zeros(14, 9)) == pytest.approx(torch.log(torch.tensor(9.0)).item())
