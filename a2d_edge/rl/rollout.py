"""Rollout collection over groups of C++ vector envs, keeping the forward graph.

The envs are split into groups; each group's next step runs on the env threads while the
network works on the other groups, so env stepping overlaps network work. The logits and values
of every step keep their autograd graph, so the update needs no second forward over the rollout.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from a2d_edge.envs import AtariSettings, EpisodeTracker, make_vec_env
from a2d_edge.utils.accel import autocast as device_autocast
from a2d_edge.utils.accel import to_device

Forward = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class Rollout:
    """One rollout of T steps over N envs; flat tensors are t-major ([T*N])."""

    logits: torch.Tensor  # [T*N, A], with graph
    values: torch.Tensor  # [T*N], with graph
    actions: torch.Tensor  # [T*N]
    rewards: torch.Tensor  # [T, N], clipped if training clips
    dones: torch.Tensor  # [T, N], 1.0 where s_{t+1} starts a new episode
    last_obs: torch.Tensor  # [N, C, H, W] uint8, s_T
    obs: torch.Tensor | None  # [T*N, C, H, W] uint8, only when kept


def split_sizes(total: int, groups: int) -> list[int]:
    groups = max(1, min(groups, total))
    base, extra = divmod(total, groups)
    return [base + (1 if g < extra else 0) for g in range(groups)]


def sample_actions(logits: torch.Tensor) -> torch.Tensor:
    """Gumbel-max sampling from softmax(logits), using torch's global RNG (saved on resume)."""
    u = torch.rand_like(logits, dtype=torch.float32).clamp_(1e-10, 1.0)
    return (logits.detach().float() - torch.log(-torch.log(u))).argmax(-1)


def _forward_context(device: torch.device, autocast: bool, grad: bool) -> contextlib.ExitStack:
    stack = contextlib.ExitStack()
    stack.enter_context(device_autocast(device, autocast))
    if not grad:
        stack.enter_context(torch.no_grad())
    return stack


class RolloutCollector:
    def __init__(
        self,
        env_id: str,
        num_envs: int,
        settings: AtariSettings,
        seed: int,
        groups: int = 2,
        env_threads: int = 1,
        channels_last: bool = False,
        device: torch.device | str = "cpu",
    ) -> None:
        self.device = torch.device(device)
        self.sizes = split_sizes(num_envs, groups)
        self.envs = [make_vec_env(env_id, n, settings, env_threads) for n in self.sizes]
        self.n_actions = int(self.envs[0].single_action_space.n)
        self.obs_shape = tuple(int(d) for d in self.envs[0].single_observation_space.shape)
        self.clip = settings.reward_clipping
        self.channels_last = channels_last
        self.tracker = EpisodeTracker(num_envs)
        self.offsets = np.cumsum([0, *self.sizes])
        self._obs: list[np.ndarray] = []
        offset = 0
        frames = []
        for env, n in zip(self.envs, self.sizes, strict=True):
            obs, info = env.reset(seed=seed + offset)
            self._obs.append(obs)
            frames.append(info["episode_frame_number"])
            offset += n
        self.tracker.reset(np.concatenate(frames))
        self.finished: list[tuple[float, int]] = []  # (score, length) of games since last read

    @property
    def num_envs(self) -> int:
        return int(sum(self.sizes))

    def _tensor(self, obs: np.ndarray) -> torch.Tensor:
        x = to_device(torch.from_numpy(obs), self.device)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def collect(
        self,
        forward: Forward,
        steps: int,
        keep_obs: bool = False,
        autocast: bool = False,
        keep_graph: bool = True,
    ) -> Rollout:
        """Step every env `steps` times with actions sampled from `forward`'s logits.

        `keep_graph=False` runs the forwards without autograd (the caller re-runs one batched
        forward over `obs`, which is then always kept).
        """
        keep_obs = keep_obs or not keep_graph
        G, N = len(self.envs), self.num_envs
        logits_l: list[torch.Tensor] = []
        values_l: list[torch.Tensor] = []
        actions_l: list[torch.Tensor] = []
        # the frames each step acted on, written once into one buffer ([T, N] t-major)
        obs_buf = np.empty((steps, N, *self._obs[0].shape[1:]), np.uint8) if keep_obs else None
        rewards = np.zeros((steps, N), dtype=np.float32)
        dones = np.zeros((steps, N), dtype=np.float32)
        step_rewards = np.zeros((steps, N), dtype=np.float64)
        step_frames = np.zeros((steps, N), dtype=np.int64)
        for t in range(steps):
            for g in range(G):
                if t > 0:
                    self._receive(g, t - 1, rewards, dones, step_rewards, step_frames)
                x = self._tensor(self._obs[g])
                with _forward_context(self.device, autocast, keep_graph):
                    logits, value = forward(x)
                action = sample_actions(logits)
                self.envs[g].send(action.cpu().numpy().astype(np.int32))
                logits_l.append(logits)
                values_l.append(value)
                actions_l.append(action)
                if obs_buf is not None:
                    obs_buf[t, self.offsets[g] : self.offsets[g + 1]] = self._obs[g]
        for g in range(G):
            self._receive(g, steps - 1, rewards, dones, step_rewards, step_frames)
        for t in range(steps):
            for _, score, length in self.tracker.update(
                step_rewards[t], dones[t] > 0, step_frames[t]
            ):
                self.finished.append((score, length))
        return Rollout(
            logits=torch.cat(logits_l),
            values=torch.cat(values_l).float(),
            actions=torch.cat(actions_l),
            rewards=to_device(torch.from_numpy(rewards), self.device),
            dones=to_device(torch.from_numpy(dones), self.device),
            last_obs=self._tensor(np.concatenate(self._obs)),
            obs=None if obs_buf is None else self._tensor(obs_buf.reshape(-1, *obs_buf.shape[2:])),
        )

    def _receive(
        self,
        g: int,
        t: int,
        rewards: np.ndarray,
        dones: np.ndarray,
        raw: np.ndarray,
        frames: np.ndarray,
    ) -> None:
        obs, r, term, trunc, info = self.envs[g].recv()
        lo, hi = self.offsets[g], self.offsets[g + 1]
        self._obs[g] = obs
        raw[t, lo:hi] = r
        rewards[t, lo:hi] = np.clip(r, -1, 1) if self.clip else r
        dones[t, lo:hi] = term | trunc
        frames[t, lo:hi] = info["episode_frame_number"]

    def pop_finished(self) -> list[tuple[float, int]]:
        done, self.finished = self.finished, []
        return done

    def close(self) -> None:
        for env in self.envs:
            env.close()
