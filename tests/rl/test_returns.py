import torch

from a2d_edge.rl.returns import nstep_returns, td0_targets


def test_nstep_returns_hand_computed():
    # T=3, N=2; env 1 ends an episode after step 1 (dones[1, 1] = 1).
    rewards = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.5]])
    dones = torch.tensor([[0.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    last = torch.tensor([10.0, 4.0])
    g = 0.5
    # env 0: R2 = 2 + .5*10 = 7; R1 = 0 + .5*7 = 3.5; R0 = 1 + .5*3.5 = 2.75
    # env 1: R2 = .5 + .5*4 = 2.5; R1 = 1 (done, no bootstrap); R0 = 0 + .5*1 = 0.5
    expected = torch.tensor([[2.75, 0.5], [3.5, 1.0], [7.0, 2.5]])
    assert torch.allclose(nstep_returns(rewards, dones, last, g), expected)


def test_nstep_returns_terminal_on_last_step_ignores_bootstrap():
    out = nstep_returns(torch.tensor([[1.0]]), torch.tensor([[1.0]]), torch.tensor([99.0]), 0.9)
    assert out.item() == 1.0


def test_td0_targets_hand_computed():
    rewards = torch.tensor([[1.0], [0.0], [2.0]])
    dones = torch.tensor([[0.0], [1.0], [0.0]])
    values = torch.tensor([[0.3], [0.6], [0.9]])
    last = torch.tensor([5.0])
    # t0: 1 + .9*0.6 = 1.54; t1: 0 (done); t2: 2 + .9*5 = 6.5
    expected = torch.tensor([[1.54], [0.0], [6.5]])
    assert torch.allclose(td0_targets(rewards, dones, values, last, 0.9), expected)
