"""Where a NatureCNN agent's tensors sit in each source's state dict, a reference forward pass
written against that layout, and the conversion to an a2d `ActorCritic` state dict.

The reference forward is the source's own computation (SB3's `NatureCNN` + `action_net` /
`value_net`, its `QNetwork`, sb3-contrib's `QuantileNetwork`, CleanRL's `Agent` / `QNetwork`)
re-run with `torch.nn.functional` on the source's tensors, so an import is checked against the
source, not against a second copy of the conversion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from a2d_edge.errors import A2DError

State = dict[str, torch.Tensor]
CONV_STRIDES = (4, 2, 1)


@dataclass(frozen=True)
class Layout:
    """One source's key layout: three convs, the fc layer, and the head's tensors."""

    name: str
    convs: tuple[str, str, str]
    fc: str
    head: str  # "actor-critic" | "q" | "quantiles"
    actor: str  # the policy logits' (or the Q / quantile values') linear layer
    critic: str | None = None  # the value's linear layer (actor-critic only)
    ignored: tuple[str, ...] = ()  # prefixes of tensors the forward does not use (target nets)
    aliases: tuple[str, ...] = ()  # prefixes that must repeat `aliases_of` (a shared CNN)
    aliases_of: str = ""

    def tensors(self) -> list[str]:
        layers = [*self.convs, self.fc, self.actor] + ([self.critic] if self.critic else [])
        return [f"{layer}.{p}" for layer in layers for p in ("weight", "bias")]


_SB3_CNN = ("features_extractor.cnn.0", "features_extractor.cnn.2", "features_extractor.cnn.4")
LAYOUTS = {
    "sb3-actor-critic": Layout(
        "sb3-actor-critic", _SB3_CNN, "features_extractor.linear.0", "actor-critic",
        "action_net", "value_net", ("pi_features_extractor.", "vf_features_extractor."),
        ("pi_features_extractor", "vf_features_extractor"), "features_extractor",
    ),
    "sb3-dqn": Layout(
        "sb3-dqn", tuple(f"q_net.{c}" for c in _SB3_CNN),  # type: ignore[arg-type]
        "q_net.features_extractor.linear.0", "q", "q_net.q_net.0", None, ("q_net_target.",),
    ),
    "sb3-qrdqn": Layout(
        "sb3-qrdqn", tuple(f"quantile_net.{c}" for c in _SB3_CNN),  # type: ignore[arg-type]
        "quantile_net.features_extractor.linear.0", "quantiles", "quantile_net.quantile_net.0",
        None, ("quantile_net_target.",),
    ),
    "cleanrl-ppo": Layout(
        "cleanrl-ppo", ("network.0", "network.2", "network.4"), "network.7", "actor-critic",
        "actor", "critic",
    ),
    "cleanrl-dqn": Layout(
        "cleanrl-dqn", ("network.0", "network.2", "network.4"), "network.7", "q", "network.9"
    ),
}  # fmt: skip
SB3_LAYOUT = {"a2c": "sb3-actor-critic", "ppo": "sb3-actor-critic", "dqn": "sb3-dqn",
              "qrdqn": "sb3-qrdqn"}  # fmt: skip


def check_layout(state: State, layout: Layout, where: str) -> None:
    """Every tensor the layout names is there with a NatureCNN's shapes, and nothing else is
    computed on the way: an extra layer (SB3's `net_arch`, a longer CleanRL network) or a
    separate critic CNN is refused."""
    missing = [k for k in layout.tensors() if k not in state]
    if missing:
        raise A2DError(f"{where}: not a {layout.name} NatureCNN state dict (no {missing[0]})")
    for alias in layout.aliases:  # SB3's shared extractor, stored once per head
        for k in [k for k in state if k.startswith(f"{alias}.")]:
            own = k.replace(alias, layout.aliases_of, 1)
            if own not in state or not torch.equal(state[k], state[own]):
                raise A2DError(
                    f"{where}: {k} differs from {own} (separate actor and critic CNNs): "
                    "unsupported (a2d's agents share one)"
                )
    known = set(layout.tensors())
    extra = [k for k in state if k not in known and not k.startswith(layout.ignored)]
    if extra:
        raise A2DError(
            f"{where}: a layer a NatureCNN {layout.head} agent does not have ({extra[0]}): "
            "unsupported (SB3's net_arch must be empty)"
        )
    c_in = 4  # the frame stack, then each conv's outputs
    for conv, side in zip(layout.convs, (8, 4, 3), strict=True):
        w = state[f"{conv}.weight"]
        if w.dim() != 4 or w.shape[1] != c_in or tuple(w.shape[2:]) != (side, side):
            raise A2DError(f"{where}: {conv} has shape {tuple(w.shape)}, not a NatureCNN conv")
        c_in = int(w.shape[0])
    fc = state[f"{layout.fc}.weight"]
    c3 = state[f"{layout.convs[2]}.weight"].shape[0]
    if fc.dim() != 2 or fc.shape[1] != c3 * 7 * 7:
        raise A2DError(f"{where}: {layout.fc} has shape {tuple(fc.shape)}: not 84×84 inputs")


def reference_forward(
    state: State, layout: Layout, frames: torch.Tensor, n_quantiles: int | None = None
) -> torch.Tensor:
    """The source's own head outputs on uint8 [N, 4, 84, 84] frames: logits and value stacked
    as [N, A + 1] for an actor-critic, Q [N, A] for a Q-network (a QR-DQN's quantiles
    [N, Q·A] viewed as [N, Q, A] and averaged over Q, as its `_predict` does)."""
    x = frames.float() / 255.0
    for conv, stride in zip(layout.convs, CONV_STRIDES, strict=True):
        x = F.relu(F.conv2d(x, state[f"{conv}.weight"], state[f"{conv}.bias"], stride=stride))
    h = F.relu(F.linear(x.flatten(1), state[f"{layout.fc}.weight"], state[f"{layout.fc}.bias"]))
    out = F.linear(h, state[f"{layout.actor}.weight"], state[f"{layout.actor}.bias"])
    if layout.head == "actor-critic":
        assert layout.critic is not None
        v = F.linear(h, state[f"{layout.critic}.weight"], state[f"{layout.critic}.bias"])
        return torch.cat([out, v], dim=1)
    if layout.head == "quantiles":
        assert n_quantiles is not None
        return out.view(out.shape[0], n_quantiles, -1).mean(dim=1)
    return out


def head_width(state: State, layout: Layout, n_quantiles: int | None = None) -> int:
    """The action count the source's head computes."""
    rows = int(state[f"{layout.actor}.weight"].shape[0])
    if layout.head != "quantiles":
        return rows
    if not n_quantiles or rows % n_quantiles:
        raise A2DError(f"{rows} quantile outputs are not n_quantiles={n_quantiles} × actions")
    return rows // n_quantiles


def to_a2d_state(state: State, layout: Layout, n_quantiles: int | None = None) -> State:
    """The tensors of an a2d `ActorCritic` (nature family) holding the same function: convs and
    fc as they are; a Q head in `actor` (a QR-DQN's quantile rows averaged, which is exact: the
    mean of linear maps is the linear map of the means) with a zero, unused `critic`."""
    out: State = {}
    for i, conv in zip((0, 2, 4), layout.convs, strict=True):
        for p in ("weight", "bias"):
            out[f"features.convs.{i}.{p}"] = state[f"{conv}.{p}"].float().clone()
    for p in ("weight", "bias"):
        out[f"features.fc.{p}"] = state[f"{layout.fc}.{p}"].float().clone()
    w, b = state[f"{layout.actor}.weight"].float(), state[f"{layout.actor}.bias"].float()
    if layout.head == "quantiles":
        assert n_quantiles is not None
        w = w.view(n_quantiles, -1, w.shape[1]).mean(dim=0)
        b = b.view(n_quantiles, -1).mean(dim=0)
    out["actor.weight"], out["actor.bias"] = w.clone(), b.clone()
    if layout.critic is not None:
        out["critic.weight"] = state[f"{layout.critic}.weight"].float().clone()
        out["critic.bias"] = state[f"{layout.critic}.bias"].float().clone()
    else:
        out["critic.weight"] = torch.zeros(1, w.shape[1])
        out["critic.bias"] = torch.zeros(1)
    return out


def nature_arch(state: State, layout: Layout) -> dict[str, Any]:
    """The a2d arch of the source's CNN (its widths and fc size read off the tensors)."""
    channels = [int(state[f"{c}.weight"].shape[0]) for c in layout.convs]
    hidden = int(state[f"{layout.fc}.weight"].shape[0])
    arch: dict[str, Any] = {"schema": "a2d.arch/1", "family": "nature", "hidden": hidden}
    if channels != [32, 64, 64]:
        arch["channels"] = channels
    return arch


def detect_cleanrl(state: State, where: str) -> Layout:
    """CleanRL's Atari PPO (`network.{0,2,4,7}` + `actor` / `critic`) or DQN (`network.{0..9}`)."""
    if "actor.weight" in state and "critic.weight" in state:
        return LAYOUTS["cleanrl-ppo"]
    if "network.9.weight" in state:
        return LAYOUTS["cleanrl-dqn"]
    raise A2DError(
        f"{where}: a state dict of no known layout (CleanRL Atari PPO: network.* + actor / "
        "critic; DQN: network.0-9)"
    )
