"""The pure parts of `a2d import`: layouts, the QR-DQN head's exact collapse, the SB3 zip's
plain fields, and name resolution."""

from pathlib import Path

import pytest
import torch

from a2d_edge.errors import A2DError
from a2d_edge.sources.importer import canonical_env_id
from a2d_edge.sources.layouts import LAYOUTS, check_layout, reference_forward, to_a2d_state
from a2d_edge.sources.names import resolve_checkpoint, zoo_card, zoo_name, zoo_supernet
from a2d_edge.sources.sb3 import algorithm_of, check_policy_kwargs, policy_class_of


def _state(layout, n_out, hidden=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    shapes = [(32, 4, 8, 8), (64, 32, 4, 4), (64, 64, 3, 3), (hidden, 3136), (n_out, hidden)]
    names = [*layout.convs, layout.fc, layout.actor]
    if layout.critic:
        shapes.append((1, hidden))
        names.append(layout.critic)
    state = {}
    for name, shape in zip(names, shapes, strict=True):
        state[f"{name}.weight"] = torch.randn(shape, generator=g) * 0.05
        state[f"{name}.bias"] = torch.randn(shape[0], generator=g) * 0.05
    return state


def test_a_qrdqn_head_collapses_exactly_to_its_quantiles_mean():
    # hand-made: 2 quantiles x 2 actions over 1 feature; rows q*A + a
    w = torch.tensor([[1.0], [2.0], [3.0], [6.0]])
    b = torch.tensor([0.0, 1.0, 2.0, 3.0])
    state = _state(LAYOUTS["sb3-qrdqn"], 4, hidden=1)
    state["quantile_net.quantile_net.0.weight"], state["quantile_net.quantile_net.0.bias"] = w, b
    out = to_a2d_state(state, LAYOUTS["sb3-qrdqn"], n_quantiles=2)
    assert out["actor.weight"].tolist() == [[2.0], [4.0]]  # (1+3)/2, (2+6)/2
    assert out["actor.bias"].tolist() == [1.0, 2.0]  # (0+2)/2, (1+3)/2
    assert out["critic.weight"].abs().sum() == 0  # unused by a Q head
    frames = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    q = reference_forward(state, LAYOUTS["sb3-qrdqn"], frames, n_quantiles=2)
    assert q.shape == (3, 2)


def test_a_layout_refuses_extra_layers_and_separate_critic_cnns():
    layout = LAYOUTS["sb3-actor-critic"]
    state = _state(layout, 6)
    check_layout(state, layout, "x")
    with pytest.raises(A2DError, match="mlp_extractor"):
        check_layout(state | {"mlp_extractor.policy_net.0.weight": torch.zeros(1)}, layout, "x")
    vf = {k.replace("features_extractor", "vf_features_extractor"): v + 1 for k, v in state.items()
          if k.startswith("features_extractor")}  # fmt: skip
    with pytest.raises(A2DError, match="separate actor and critic CNNs"):
        check_layout(state | vf, layout, "x")
    bad = dict(state)
    bad["features_extractor.cnn.0.weight"] = torch.zeros(32, 3, 8, 8)  # RGB, not a 4-stack
    with pytest.raises(A2DError, match="not a NatureCNN conv"):
        check_layout(bad, layout, "x")


def test_the_zips_plain_fields_name_policy_and_algorithm():
    init = "<function ActorCriticCnnPolicy.__init__ at 0x7f>"
    data = {"policy_class": {"__module__": "stable_baselines3.common.policies", "__init__": init}}
    assert policy_class_of(data, Path("m.zip")) == (
        "ActorCriticCnnPolicy",
        data["policy_class"]["__module__"],
    )
    assert algorithm_of("stable_baselines3.common.policies", {"n_epochs": 4}) == "ppo"
    assert algorithm_of("stable_baselines3.common.policies", {"n_steps": 5}) == "a2c"
    assert algorithm_of("sb3_contrib.qrdqn.policies", {}) == "qrdqn"
    with pytest.raises(A2DError, match="custom policy class"):
        policy_class_of({"policy_class": {"__module__": "mine"}}, Path("m.zip"))
    check_policy_kwargs({"optimizer_kwargs": {"eps": 1e-5}, "net_arch": []}, Path("m.zip"))
    with pytest.raises(A2DError, match="features_dim_x"):
        check_policy_kwargs({"features_dim_x": 3}, Path("m.zip"))


def test_names_resolve_in_one_place(tmp_path):
    assert zoo_name("zoo:pong") == "pong" and zoo_name("runs/a/agent.pt") is None
    assert resolve_checkpoint("zoo:pong").name == "pong.pt"
    assert resolve_checkpoint(tmp_path / "agent.pt") == tmp_path / "agent.pt"
    with pytest.raises(A2DError, match="a2d import"):
        resolve_checkpoint(tmp_path / "ppo.zip")
    with pytest.raises(A2DError, match="no agent zoo:nope"):
        resolve_checkpoint("zoo:nope")
    assert zoo_card("zoo:pong")["name"] == "zoo:pong" and zoo_card("x.pt") is None
    assert zoo_supernet("zoo:pong-fast").name == "pong-fast.pt" and zoo_supernet("a") is None


def test_every_id_of_a_game_imports_for_the_one_a2d_plays():
    assert canonical_env_id("BreakoutNoFrameskip-v4") == ("ALE/Breakout-v5", None)
    assert canonical_env_id("breakout") == ("ALE/Breakout-v5", None)
    canonical, note = canonical_env_id("Breakout-v4")  # gym's v4: random skip 2-4 (SB3 #1128)
    assert canonical == "ALE/Breakout-v5" and "frame skip of 4" in note
