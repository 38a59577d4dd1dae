"""Stable-Baselines3 / sb3-contrib `.zip` files, read without unpickling anything.

An SB3 zip holds `data` (JSON in which every non-JSON object is a base64 cloudpickle under
`:serialized:`, with plain JSON fields written beside it), `policy.pth` (the policy's state dict,
read here with `torch.load(weights_only=True)`) and `_stable_baselines3_version`. Only the plain
fields are read: the policy class's name and module, the observation shape and dtype, the action
count, the JSON-able policy kwargs. A source this module cannot vouch for is refused in one line
that names what is unsupported.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from a2d_edge.errors import A2DError

MAX_MEMBER_BYTES = 1 << 30  # a NatureCNN policy is ~7 MB; anything near 1 GB is not one
ALGOS = {  # the policy class's module -> its algorithm (A2C and PPO told apart by data fields)
    "stable_baselines3.common.policies": "on-policy",
    "stable_baselines3.dqn.policies": "dqn",
    "sb3_contrib.qrdqn.policies": "qrdqn",
}
CNN_POLICIES = {"ActorCriticCnnPolicy", "CnnPolicy"}
NATURE_CNN = "<class 'stable_baselines3.common.torch_layers.NatureCNN'>"
# policy kwargs that change nothing a forward pass computes (the optimizer, init, gSDE off)
HARMLESS_KWARGS = {"optimizer_class", "optimizer_kwargs", "ortho_init", "log_std_init",
                   "share_features_extractor", "normalize_images", "features_extractor_class",
                   "features_extractor_kwargs", "net_arch", "n_quantiles", "dueling",
                   "activation_fn"}  # fmt: skip


@dataclass(frozen=True)
class Sb3Source:
    """What an SB3 zip says of itself, from its plain fields and weights only."""

    path: Path
    algo: str  # "a2c" | "ppo" | "dqn" | "qrdqn"
    policy_class: str
    obs_shape: tuple[int, ...]
    n_actions: int
    state_dict: dict[str, Any]
    sb3_version: str | None
    n_quantiles: int | None = None
    num_timesteps: int = 0


def is_sb3_zip(path: Path) -> bool:
    if not path.is_file() or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
    return "data" in names and "policy.pth" in names


def read_sb3_zip(path: str | Path) -> Sb3Source:
    """The zip's policy, checked to be one a2d can rebuild exactly (a NatureCNN `CnnPolicy`
    on 4×84×84 uint8 Atari frames with a discrete action space)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            data = _json_member(z, "data", path)
            weights = _member(z, "policy.pth", path)
            version = _text_member(z, "_stable_baselines3_version")
    except zipfile.BadZipFile as e:
        raise A2DError(f"{path} is not a readable zip: {e}") from None
    if not isinstance(data, dict):
        raise A2DError(f"{path}: its 'data' is not an SB3 data object")
    policy_class, module = policy_class_of(data, path)
    obs_shape = observation_shape(data, path)
    n_actions = action_count(data, path)
    kwargs = plain_policy_kwargs(data)
    check_policy_kwargs(kwargs, path)
    algo = algorithm_of(module, data)
    state = _load_weights(weights, path)
    n_quantiles = _int_field(data, "n_quantiles") if algo == "qrdqn" else None
    steps = data.get("num_timesteps")
    steps = steps if isinstance(steps, int) and steps >= 0 else 0
    return Sb3Source(
        path, algo, policy_class, obs_shape, n_actions, state, version, n_quantiles, steps
    )


def policy_class_of(data: dict[str, Any], path: Path) -> tuple[str, str]:
    """The policy class's name and module, from the plain fields SB3 writes beside the pickle
    (`__module__`, and `__init__`'s repr `<function NAME.__init__ at 0x...>`)."""
    cls = data.get("policy_class")
    if not isinstance(cls, dict):
        raise A2DError(f"{path}: no policy_class in its data (not an SB3 model zip)")
    module = cls.get("__module__")
    init = str(cls.get("__init__", ""))
    m = re.match(r"<function (\w+)\.__init__ at", init)
    if not isinstance(module, str) or m is None:
        raise A2DError(f"{path}: a custom policy class (no SB3 CnnPolicy of its own): unsupported")
    name = m.group(1)
    if name.startswith("MultiInput"):
        raise A2DError(f"{path}: MultiInputPolicy ({name}, dict observations): unsupported")
    if module not in ALGOS or name not in CNN_POLICIES:
        raise A2DError(
            f"{path}: policy {module}.{name} is unsupported (a2d imports the CnnPolicy of "
            "A2C, PPO, DQN and QR-DQN)"
        )
    return name, module


def observation_shape(data: dict[str, Any], path: Path) -> tuple[int, ...]:
    space = data.get("observation_space")
    if not isinstance(space, dict) or "Box" not in str(space.get(":type:", "")):
        raise A2DError(f"{path}: its observation space is not an image Box (non-Atari)")
    try:
        shape = tuple(int(x) for x in json.loads(str(space.get("_shape"))))
    except (ValueError, TypeError):
        raise A2DError(f"{path}: unreadable observation shape {space.get('_shape')!r}") from None
    if space.get("dtype") != "uint8":
        raise A2DError(f"{path}: observations of dtype {space.get('dtype')}, not uint8 frames")
    if shape not in ((4, 84, 84), (84, 84, 4)):
        raise A2DError(
            f"{path}: observation shape {shape}: a2d imports 4×84×84 (or 84×84×4) Atari stacks"
        )
    return shape


def action_count(data: dict[str, Any], path: Path) -> int:
    space = data.get("action_space")
    if not isinstance(space, dict) or "Discrete" not in str(space.get(":type:", "")):
        kind = space.get(":type:", "?") if isinstance(space, dict) else "?"
        raise A2DError(f"{path}: action space {kind} is not Discrete (continuous): unsupported")
    try:
        n = int(space["n"])
        start = int(space.get("start", 0))
    except (KeyError, ValueError, TypeError):
        raise A2DError(f"{path}: unreadable action count {space.get('n')!r}") from None
    if n < 1 or start != 0:
        raise A2DError(f"{path}: Discrete({n}, start={start}) is not an ALE action set")
    return n


def plain_policy_kwargs(data: dict[str, Any]) -> dict[str, Any]:
    """The policy kwargs' plain fields: SB3 writes each JSON-able entry beside the pickle."""
    kwargs = data.get("policy_kwargs") or {}
    if not isinstance(kwargs, dict):
        return {}
    return {k: v for k, v in kwargs.items() if not k.startswith(":")}


def check_policy_kwargs(kwargs: dict[str, Any], path: Path) -> None:
    fe = kwargs.get("features_extractor_class")
    if fe is not None and fe != NATURE_CNN:
        raise A2DError(f"{path}: a custom features extractor {fe}: unsupported (NatureCNN only)")
    if kwargs.get("normalize_images") is False:
        raise A2DError(f"{path}: normalize_images=False (frames not scaled by 1/255): unsupported")
    if kwargs.get("share_features_extractor") is False:
        raise A2DError(
            f"{path}: share_features_extractor=False (separate actor and critic CNNs): "
            "unsupported (a2d's agents share one)"
        )
    if kwargs.get("net_arch") not in (None, [], {}, {"pi": [], "vf": []}):
        raise A2DError(
            f"{path}: net_arch={kwargs['net_arch']} (hidden layers after the CNN): unsupported"
        )
    if kwargs.get("dueling"):
        raise A2DError(f"{path}: a dueling Q-network: unsupported")
    unknown = sorted(set(kwargs) - HARMLESS_KWARGS)
    if unknown:
        raise A2DError(f"{path}: policy kwargs {', '.join(unknown)}: unsupported")


def algorithm_of(module: str, data: dict[str, Any]) -> str:
    kind = ALGOS[module]
    if kind != "on-policy":
        return kind
    return "ppo" if "clip_range" in data or "n_epochs" in data else "a2c"


def _member(z: zipfile.ZipFile, name: str, path: Path) -> bytes:
    try:
        info = z.getinfo(name)
    except KeyError:
        raise A2DError(f"{path}: no {name} inside (not an SB3 model zip)") from None
    if info.file_size > MAX_MEMBER_BYTES:
        raise A2DError(f"{path}: {name} is {info.file_size:,} bytes: too large for a CnnPolicy")
    return z.read(name)


def _json_member(z: zipfile.ZipFile, name: str, path: Path) -> Any:
    try:
        return json.loads(_member(z, name, path))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise A2DError(f"{path}: its {name} is not JSON ({e})") from None


def _text_member(z: zipfile.ZipFile, name: str) -> str | None:
    try:
        return z.read(name).decode().strip() or None
    except (KeyError, UnicodeDecodeError):
        return None


def _int_field(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or value < 1:
        raise A2DError(f"the zip's {key} is {value!r}, not a positive integer")
    return value


def _load_weights(raw: bytes, path: Path) -> dict[str, Any]:
    """policy.pth as tensors only (`weights_only=True`: a pickle payload is refused, never run)."""
    import pickle

    import torch

    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise A2DError(f"{path}: policy.pth is not plain weights: {first[:160]}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise A2DError(f"{path}: policy.pth is not a state dict of tensors")
    return dict(state)
