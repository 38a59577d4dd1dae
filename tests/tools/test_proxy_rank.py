"""tools/proxy_rank.py's ceiling: trained agents judged on the selection's held-out frames."""

import pytest
import torch

from a2d_edge.errors import A2DError
from a2d_edge.nets import build_agent
from a2d_edge.nets.arch import load_arch
from a2d_edge.search.config import SearchConfig
from a2d_edge.sources.checkpoint import save_checkpoint
from tools.proxy_rank import judge_trained, pooled_score


def _save(path, model):
    path.parent.mkdir(parents=True)
    save_checkpoint(path, {"arch": load_arch("nature-thin"), "env_id": "ALE/Pong-v5",
                           "obs_shape": [4, 84, 84], "n_actions": 6, "step": 0,
                           "model": model.state_dict()})  # fmt: skip


def test_pooled_score_weights_each_episode_once():
    row = {"score": {"mean": 18.0, "episodes": 30}}
    assert pooled_score(row, None) == (18.0, 30)
    assert pooled_score(row, {"mean": 19.0, "episodes": 100}) == (pytest.approx(18.769230769), 130)


def test_the_trained_agents_are_judged_against_their_own_labels(tmp_path):
    from a2d_edge.search.frames import Frames

    torch.manual_seed(0)
    models = [build_agent(load_arch("nature-thin"), 6).eval() for _ in range(3)]
    obs = torch.randint(0, 256, (64, 4, 84, 84), dtype=torch.uint8)
    with torch.no_grad():
        logits, values = models[0](obs)  # the "teacher" is the first agent
    frames = Frames(obs, logits, values.reshape(-1))
    rows = []
    for i, (m, score) in enumerate(zip(models, (18.0, 10.0, 5.0), strict=True)):
        _save(tmp_path / f"run{i}" / "agent.pt", m)
        rows.append({"run": f"run{i}", "arch": {"family": "nature"},
                     "score": {"mean": score, "episodes": 30}})  # fmt: skip
    rows.append({"run": "never-finished", "arch": {"family": "nature"}, "score": None})
    cfg = SearchConfig()
    res = judge_trained(
        tmp_path, rows, {"run1": {"mean": 20.0, "episodes": 30}}, cfg, lambda: frames
    )
    judged = res["judged"]
    assert set(judged) == {"run0", "run1", "run2"}  # no agent.pt, no score: left out
    assert judged["run0"]["loss"] == pytest.approx(0.0, abs=1e-5)  # its own labels
    assert judged["run0"]["agreement"] == 1.0
    assert min(judged["run1"]["loss"], judged["run2"]["loss"]) > 1e-3
    assert judged["run1"]["score"] == 15.0 and judged["run1"]["episodes"] == 60  # pooled
    assert res["all"]["n"] == 3 and res["searched"] is None  # no searched arch
    assert -1.0 <= res["all"]["kendall_loss"] <= 1.0
    with pytest.raises(A2DError, match="need 3"):
        judge_trained(tmp_path, rows[:2], {}, cfg, lambda: frames)


def test_window_mean_reads_only_training_rows_in_its_window():
    from tools.proxy_rank import window_mean

    rows = [
        {"step": 10, "kind": "train", "distill/kl": 1.0},
        {"step": 20, "kind": "train", "distill/kl": 3.0},
        {"step": 20, "kind": "eval", "score_mean": 5.0},
        {"step": 30, "kind": "train", "distill/kl": 9.0},
    ]
    assert window_mean(rows, "distill/kl", 0, 20) == 2.0  # (lo, hi]
    assert window_mean(rows, "distill/kl", 10, 30) == 6.0
    assert window_mean(rows, "distill/kl", 30, 40) is None
