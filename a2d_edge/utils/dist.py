"""Data parallelism over torch.distributed, launched by torchrun (single or multi node).

Each rank owns its own envs (distinct seeds) and computes the loss on its own rollout; the
gradients of the weights (and of the architecture logits in a search) are averaged over ranks,
so every rank takes the same step as one process over all ranks' envs would. Rank 0 writes
checkpoints, logs and evaluations. `gloo` on CPU, `nccl` on GPU, chosen automatically.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from a2d_edge.errors import A2DError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    backend: str = "none"

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def init_from_env(device: str = "cpu") -> DistInfo:
    """Join the process group torchrun describes (WORLD_SIZE > 1); a no-op otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") and torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return DistInfo(dist.get_rank(), dist.get_world_size(), dist.get_backend())


def check_resume_world(saved: int | None, info: DistInfo, run_dir: object) -> None:
    """A run resumes under the number of processes it was saved with: the batch per update, the
    envs' seed ranges and the step count per update all follow the world size. Checkpoints that
    predate the field (`saved` None) are not checked."""
    if saved is None or saved == info.world:
        return
    how = "without torchrun" if saved == 1 else f"under torchrun with {saved} processes in all"
    raise A2DError(
        f"{run_dir} was saved by {saved} process(es), this launch has {info.world}; resume it {how}"
    )


def average_gradients(params: Iterable[nn.Parameter], info: DistInfo) -> None:
    """All-reduce (mean) every gradient, flattened into one buffer per call."""
    if not info.active:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= info.world
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n


def broadcast_module(module: nn.Module, info: DistInfo) -> None:
    """Make every rank start from rank 0's parameters and buffers."""
    if not info.active:
        return
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=0)


def broadcast_choice(value: str, info: DistInfo) -> str:
    """Rank 0's `value` on every rank (a choice each rank measured, such as the precision)."""
    if not info.active:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return str(box[0])


def barrier(info: DistInfo) -> None:
    if info.active:
        dist.barrier()
