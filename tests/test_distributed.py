"""Data parallelism: 2 ranks x k envs take the same step as 1 rank x 2k envs, from one state.

BatchNorm normalises with each rank's own batch statistics (as DDP does without SyncBN), so
the search-step check runs BN in eval mode; the Nature CNN has no BN and runs in train mode.
"""

import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from a2d_edge.nets import build_agent, get_space, load_arch
from a2d_edge.nets.supernet import Supernet, gumbel_weights, sample_gumbel
from a2d_edge.rl.config import TrainConfig
from a2d_edge.rl.rollout import Rollout
from a2d_edge.rl.update import a2d_update
from a2d_edge.search.cost import FlopsTable
from a2d_edge.utils.dist import DistInfo

T, N, A = 5, 4, 6


def _rollout(cols: list[int]) -> Rollout:
    g = torch.Generator().manual_seed(0)
    obs = torch.randint(0, 256, (T, N, 4, 84, 84), dtype=torch.uint8, generator=g)
    last = torch.randint(0, 256, (N, 4, 84, 84), dtype=torch.uint8, generator=g)
    actions = torch.randint(0, A, (T, N), generator=g)
    rewards = torch.randint(-1, 2, (T, N), generator=g).float()
    dones = (torch.rand(T, N, generator=g) < 0.2).float()
    n = len(cols)
    return Rollout(
        logits=torch.empty(0),
        values=torch.empty(0),
        actions=actions[:, cols].reshape(T * n),
        rewards=rewards[:, cols],
        dones=dones[:, cols],
        last_obs=last[cols],
        obs=obs[:, cols].reshape(T * n, 4, 84, 84),
    )


def _train_step(model, ro: Rollout, info: DistInfo) -> dict[str, torch.Tensor]:
    """The trainer's own update (`rl.update.a2d_update`), as `TrainLoop._learn` calls it."""
    cfg = TrainConfig()
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.99, eps=1e-5)
    a2d_update(forward=model, ro=ro, cfg=cfg, teacher=None, zero=[opt], step=[opt],
               average=model.parameters(), clip=model.parameters(), dist=info)  # fmt: skip
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _search_grads(net: Supernet, ro: Rollout, info: DistInfo) -> dict[str, torch.Tensor]:
    """The search's update with its FLOPs cost, gradients only (nothing stepped)."""
    cfg = TrainConfig()
    noise = sample_gumbel(tuple(net.alpha.shape), generator=torch.Generator().manual_seed(7))
    weights = gumbel_weights(net.alpha, noise, 5.0, hard=False)
    table = FlopsTable(net.space, A)

    def cost() -> dict[str, torch.Tensor]:
        return {"cost/flops": 1e-3 * table.expected(weights).float() / 1e6}

    a2d_update(forward=lambda x: net(x, weights), ro=ro, cfg=cfg, teacher=None, zero=[], step=[],
               average=net.parameters(), clip=None, dist=info, extra=cost)  # fmt: skip
    return {n: p.grad.detach().clone() for n, p in net.named_parameters() if p.grad is not None}


def _models():
    torch.manual_seed(1)
    agent = build_agent(load_arch("nature"), A)
    torch.manual_seed(2)
    net = Supernet(get_space("edge"), A).eval()
    net.alpha.data.normal_()
    return agent, net


def _worker(rank: int, world: int, init_file: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    info = DistInfo(rank, world, "gloo")
    cols = [[0, 1], [2, 3]][rank]
    agent, net = _models()
    weights = _train_step(agent, _rollout(cols), info)
    grads = _search_grads(net, _rollout(cols), info)
    if rank == 0:
        torch.save({"weights": weights, "grads": grads}, out)
    dist.barrier()
    dist.destroy_process_group()


def test_two_ranks_take_the_single_process_step(tmp_path):
    out = str(tmp_path / "rank0.pt")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), out), nprocs=2, join=True)
    ddp = torch.load(out, weights_only=True)
    agent, net = _models()
    single = _train_step(agent, _rollout([0, 1, 2, 3]), DistInfo())
    for k, v in single.items():
        assert torch.allclose(ddp["weights"][k], v, atol=1e-6, rtol=1e-5), k
    grads = _search_grads(net, _rollout([0, 1, 2, 3]), DistInfo())
    assert set(grads) == set(ddp["grads"]) and "alpha" in grads
    for k, g in grads.items():
        assert torch.allclose(ddp["grads"][k], g, atol=1e-5, rtol=1e-3), (
            k,
            (ddp["grads"][k] - g).abs().max(),
        )


def test_torchrun_trains_and_searches_on_two_ranks(tmp_path):
    import shutil
    import subprocess
    import sys

    from a2d_edge.search.rl import load_search_checkpoint
    from a2d_edge.sources.checkpoint import load_checkpoint

    torchrun = shutil.which("torchrun") or f"{sys.executable} -m torch.distributed.run"
    common = ["--num-envs", "2", "--eval-every", "0", "--no-progress", "--checkpoint-every", "40"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for cmd, extra, out in (
        ("train", ["--steps", "80"], tmp_path / "t"),
        (
            "search-rl",
            ["--steps", "40", "--preset", "edge", "--mode", "hard"],
            tmp_path / "s",
        ),
    ):
        argv = [*torchrun.split(), "--nproc-per-node", "2", "-m", "a2d_edge", cmd, *extra,
                *common, "--out", str(out)]  # fmt: skip
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=240)
        assert proc.returncode == 0, proc.stderr[-2000:]
    ckpt = load_checkpoint(tmp_path / "t" / "agent.pt")
    assert ckpt["step"] == 80 and ckpt["world_size"] == 2  # 2 ranks x 2 envs x 5 steps x 4
    assert load_search_checkpoint(tmp_path / "s" / "supernet.pt")["step"] == 40
