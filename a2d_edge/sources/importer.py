"""`a2d import`: an SB3 / rl-zoo / CleanRL Atari agent as an ordinary a2d `agent.pt`.

The source is read without unpickling anything (`sources.sb3`, `torch.load(weights_only=True)`),
converted to an a2d NatureCNN `ActorCritic`, and checked before anything is written: the
imported net and a reference forward pass written against the source's own key layout
(`sources.layouts`) are run on a few hundred frames the agent plays, and the worst |Δ log π|
and |Δ V| must be within `TOLERANCE`. The agent records where it came from.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from a2d_edge.envs import AtariSettings, action_meanings, make_vec_env, resolve_game
from a2d_edge.envs.atari import OBS_SHAPE, _camel
from a2d_edge.errors import A2DError
from a2d_edge.nets import ActorCritic, build_agent
from a2d_edge.sources import DEFAULT_FRAMES, DEFAULT_TEMPERATURE
from a2d_edge.sources.checkpoint import save_checkpoint, torch_load
from a2d_edge.sources.layouts import (
    LAYOUTS,
    SB3_LAYOUT,
    Layout,
    State,
    check_layout,
    detect_cleanrl,
    head_width,
    nature_arch,
    reference_forward,
    to_a2d_state,
)
from a2d_edge.sources.sb3 import is_sb3_zip, read_sb3_zip

TOLERANCE = 1e-4  # worst |Δ log π| and relative |Δ V| (float32 runs of the same ops agree ~1e-6)
Q_TOLERANCE = 1e-5  # a Q head's relative |ΔQ|; its log π may then differ by 2·ΔQ/τ


@dataclass(frozen=True)
class Source:
    """A source agent's tensors, their layout and what is known of where it came from."""

    path: Path
    layout: Layout
    state: State
    n_actions: int
    provenance: dict[str, Any]
    n_quantiles: int | None = None
    notes: tuple[str, ...] = ()
    step: int = 0


@dataclass
class Parity:
    frames: int
    pipeline: str
    worst_dlogp: float
    worst_dv: float
    greedy_agreement: float
    worst_dq: float | None = None
    dlogp_tolerance: float = TOLERANCE
    ok: bool = field(init=False)

    def __post_init__(self) -> None:
        q_ok = self.worst_dq is None or self.worst_dq <= Q_TOLERANCE
        self.ok = q_ok and self.worst_dlogp <= self.dlogp_tolerance and self.worst_dv <= TOLERANCE

    def describe(self) -> str:
        dq = f", |ΔQ| {self.worst_dq:.2e}" if self.worst_dq is not None else ""
        return (
            f"parity on {self.frames} frames ({self.pipeline}): worst |Δ log π| "
            f"{self.worst_dlogp:.2e}, |Δ V| {self.worst_dv:.2e}{dq}, greedy actions equal "
            f"{100 * self.greedy_agreement:.1f}%"
        )


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_model_file(src: Path) -> Path:
    """A file as it is; in an rl-zoo run folder, its final model `<ENV_ID>.zip` (not
    `best_model.zip` or the `rl_model_*_steps.zip` checkpoints, which `--load-best` /
    `--load-checkpoint` pick in rl-zoo: name them directly)."""
    if src.is_file():
        return src
    if not src.is_dir():
        raise A2DError(f"no such source: {src}")
    zips = [
        p for p in sorted(src.glob("*.zip"))
        if p.name != "best_model.zip" and not p.name.startswith("rl_model_")
    ]  # fmt: skip
    if len(zips) != 1:
        found = ", ".join(p.name for p in sorted(src.glob("*.zip"))) or "no .zip"
        raise A2DError(f"{src}: expected one final model <ENV_ID>.zip in the folder, found {found}")
    return zips[0]


def check_no_vecnormalize(model: Path) -> None:
    """rl-zoo writes VecNormalize statistics beside the model; an agent trained on normalised
    observations would see other inputs here."""
    for p in (model.parent / "vecnormalize.pkl", model.parent / model.stem / "vecnormalize.pkl"):
        if p.exists():
            raise A2DError(
                f"{model}: VecNormalize statistics beside it ({p}): normalised observations "
                "are unsupported"
            )


def read_source(spec: str | Path) -> Source:
    path = find_model_file(Path(spec))
    check_no_vecnormalize(path)
    digest = sha256_of(path)
    if is_sb3_zip(path):
        sb3 = read_sb3_zip(path)
        layout = LAYOUTS[SB3_LAYOUT[sb3.algo]]
        notes: tuple[str, ...] = ()
        if sb3.obs_shape == (84, 84, 4):
            notes = (
                "SB3's legacy channel-last stack (84×84×4): frames are fed as 4×84×84 "
                "(transposed; the conv weights are unchanged)",
            )
        prov = {"format": "sb3-zip", "algorithm": sb3.algo, "policy_class": sb3.policy_class,
                "sb3_version": sb3.sb3_version, "obs_shape": list(sb3.obs_shape)}  # fmt: skip
        return Source(path, layout, sb3.state_dict, sb3.n_actions, prov | _file(path, digest),
                      sb3.n_quantiles, notes, sb3.num_timesteps)  # fmt: skip
    if path.suffix == ".zip":
        raise A2DError(f"{path} is not an SB3 model zip (no data and policy.pth inside)")
    state = torch_load(path, "source state dict")
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        raise A2DError(
            f"{path} is a checkpoint, not a CleanRL state dict (a2d agents need no import)"
        )
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise A2DError(f"{path}: neither an SB3 zip nor a CleanRL state dict of tensors")
    layout = detect_cleanrl(state, str(path))
    check_layout(state, layout, str(path))
    algo = "ppo" if layout.head == "actor-critic" else "dqn"
    prov = {"format": "cleanrl-state-dict", "algorithm": algo}
    return Source(path, layout, state, head_width(state, layout), prov | _file(path, digest))


def _file(path: Path, digest: str) -> dict[str, Any]:
    return {"file": path.name, "sha256": digest, "layout": ""}


def canonical_env_id(env_id: str) -> tuple[str, str | None]:
    """`ALE/<Game>-v5` for any id of the game, and a one-line note where the id's own frame
    skip or sticky actions differ from what a2d plays (the frame-skip trap, SB3 #1128)."""
    rom = resolve_game(env_id)
    canonical = f"ALE/{_camel(rom)}-v5"
    if "NoFrameskip" in env_id or not re.search(r"-v\d+$", env_id):
        return canonical, None
    return canonical, (
        f"{env_id}: a2d plays {canonical} with its own frame skip of 4 (max of the last two "
        "frames) and no sticky actions, the NoFrameskip-v4 + AtariWrapper protocol of SB3 / "
        "rl-zoo, whatever the id's own skip"
    )


def imported_agent(src: Source, head: dict[str, Any] | None) -> tuple[ActorCritic, dict[str, Any]]:
    check_layout(src.state, src.layout, str(src.path))
    arch = nature_arch(src.state, src.layout)
    model = build_agent(arch, src.n_actions, OBS_SHAPE[0], head)
    model.load_state_dict(to_a2d_state(src.state, src.layout, src.n_quantiles))
    return model.eval(), arch


def play_frames(model: ActorCritic, env_id: str, n: int, seed: int) -> tuple[np.ndarray, str]:
    """`n` observations of the agent playing (its sampled actions): in SB3's own Atari
    pipeline (`make_atari_env` + `VecFrameStack(4)` + `VecTransposeImage`) where SB3 and its
    OpenCV are installed, the frames the source was trained on, else in a2d's env."""
    gen = torch.Generator().manual_seed(seed)

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits, _ = model(torch.from_numpy(obs))
        return torch.multinomial(torch.softmax(logits, -1), 1, generator=gen).squeeze(1).numpy()

    sb3_env = _sb3_env(env_id, seed)
    if sb3_env is not None:
        frames = []
        obs = sb3_env.reset()
        for _ in range(n):
            frames.append(obs[0].copy())
            obs, *_ = sb3_env.step(act(obs))
        sb3_env.close()
        return np.stack(frames), "SB3's AtariWrapper + VecFrameStack(4)"
    env = make_vec_env(env_id, 1, AtariSettings())
    frames = []
    try:
        obs, _ = env.reset(seed=seed)
        for _ in range(n):
            frames.append(obs[0].copy())
            obs, *_ = env.step(act(obs))
    finally:
        env.close()
    return np.stack(frames), "a2d's env"


def _sb3_env(env_id: str, seed: int) -> Any:
    """SB3's Atari pipeline for the game's NoFrameskip-v4 id, None without SB3 or OpenCV."""
    try:
        import ale_py
        import cv2  # noqa: F401  (SB3's AtariWrapper resizes with it)
        import gymnasium
        from stable_baselines3.common.env_util import make_atari_env
        from stable_baselines3.common.vec_env import VecFrameStack, VecTransposeImage
    except ImportError:
        return None
    gymnasium.register_envs(ale_py)
    game = env_id.split("/")[-1].split("-")[0]
    venv = make_atari_env(f"{game}NoFrameskip-v4", n_envs=1, seed=seed)
    return VecTransposeImage(VecFrameStack(venv, n_stack=4))


@torch.no_grad()
def check_parity(src: Source, model: ActorCritic, frames: np.ndarray, pipeline: str) -> Parity:
    x = torch.from_numpy(frames)
    ref = reference_forward(src.state, src.layout, x, src.n_quantiles)
    logits, value = model(x)
    worst_dq, tolerance = None, TOLERANCE
    if src.layout.head == "actor-critic":
        ref_logits, ref_v = ref[:, :-1], ref[:, -1]
    else:
        from a2d_edge.nets.agent import q_policy

        temperature = float(getattr(model, "temperature"))  # noqa: B009
        q = model.actor(model.features(x.float() / 255.0))
        scale = float(ref.abs().max().clamp(min=1.0))
        worst_dq = float((q - ref).abs().max()) / scale
        tolerance = TOLERANCE + 2 * Q_TOLERANCE * scale / temperature
        ref_logits, ref_v = q_policy(ref, temperature)
    dlogp = (torch.log_softmax(logits, -1) - torch.log_softmax(ref_logits, -1)).abs().max()
    dv = ((value - ref_v).abs() / ref_v.abs().clamp(min=1.0)).max()
    agree = (logits.argmax(-1) == ref_logits.argmax(-1)).float().mean()
    return Parity(len(frames), pipeline, float(dlogp), float(dv), float(agree), worst_dq, tolerance)


def import_agent(
    spec: str | Path,
    env_id: str,
    out: str | Path,
    temperature: float = DEFAULT_TEMPERATURE,
    frames: int = DEFAULT_FRAMES,
    seed: int = 0,
    say: Any = print,
) -> dict[str, Any]:
    """Import `spec` for `env_id` into `out` (refused, with nothing written, when `out`
    exists, the source is unsupported or the parity check fails); returns the checkpoint."""
    out = Path(out)
    if out.exists():
        raise A2DError(f"{out} exists: choose another --out (nothing was written)")
    if frames < 1:
        raise A2DError(f"--parity-frames must be >= 1, got {frames}")
    if not 0 < temperature < float("inf"):
        raise A2DError(f"--temperature must be positive, got {temperature}")
    canonical, note = canonical_env_id(env_id)
    src = read_source(spec)
    for line in (*src.notes, note):
        if line:
            say(f"note: {line}")
    n_env = len(action_meanings(canonical))
    if src.n_actions != n_env:
        raise A2DError(
            f"{src.path} acts with {src.n_actions} actions but {canonical} has {n_env}: "
            "an agent of another game?"
        )
    head = {"kind": "q", "temperature": temperature} if src.layout.head != "actor-critic" else None
    model, arch = imported_agent(src, head)
    played, pipeline = play_frames(model, canonical, frames, seed)
    parity = check_parity(src, model, played, pipeline)
    say(parity.describe())
    if not parity.ok:
        raise A2DError(
            f"{src.path}: the imported net differs from the source's own forward "
            f"(worst |Δ log π| {parity.worst_dlogp:.2e}, |Δ V| {parity.worst_dv:.2e} > "
            f"{TOLERANCE:g}): not written"
        )
    source = dict(src.provenance) | {
        "layout": src.layout.name,
        "path": str(src.path),
        "env_id_given": env_id,
        "imported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "parity": {k: v for k, v in vars(parity).items()},
    }
    if head is not None:
        source["temperature"] = temperature
    ckpt: dict[str, Any] = {
        "arch": arch,
        "env_id": canonical,
        "obs_shape": list(OBS_SHAPE),
        "n_actions": src.n_actions,
        "atari": AtariSettings().to_dict(),
        "step": src.step,
        "model": model.state_dict(),
        "source": source,
    }
    if head is not None:
        ckpt["head"] = head
    save_checkpoint(out, ckpt)
    return ckpt
