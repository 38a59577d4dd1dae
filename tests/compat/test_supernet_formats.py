"""RUN/supernet.pt across formats: golden files written by the code before `a2d.supernet/2`
stay readable (an old distillation supernet is reused by selection, an old RL run resumes), v2
round-trips for both methods, and another method's or a foreign file is refused in one line.

The goldens in data/ are a micro space (1 block of 8 channels, ops conv_k3 and skip, 1.5k
weights) trained a few steps on Pong by the pre-v2 CLI:
  distill-phase-1/supernet.pt  `a2d search` (a2d.distill-phase/1, kind supernet, step 32)
  rl-supernet-1/               `a2d search-rl --steps 40 --checkpoint-every 20 --mode hard
                               --seed 3` (a2d.supernet/1 at step 20, and its config.json); the
                               micro space stood in for the tiny preset: a resumed run builds the
                               checkpoint's space.
Never regenerate them: they are what older runs hold on disk (their sha256 is checked here)."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch

from a2d_edge.cli import main
from a2d_edge.errors import A2DError
from a2d_edge.nets.space import SearchSpace
from a2d_edge.nets.supernet import Supernet
from a2d_edge.rl.loop import LoopState
from a2d_edge.search.checkpoint import load_supernet
from a2d_edge.search.config import SearchConfig
from a2d_edge.search.phase import load_phase
from a2d_edge.search.rl import load_search_checkpoint
from a2d_edge.search.supernet_file import (
    FORMAT,
    read_supernet,
    supernet_method,
    write_supernet,
)
from a2d_edge.search.trainer import DistillLoop, PhaseSettings
from a2d_edge.sources.checkpoint import load_checkpoint
from a2d_edge.utils.logging import NullLogger

DATA = Path(__file__).parent / "data"
DISTILL_V1 = DATA / "distill-phase-1" / "supernet.pt"
RL_V1 = DATA / "rl-supernet-1" / "supernet.pt"
GOLDEN_SHA256 = {
    DISTILL_V1: "9cfdfcba84933aa38524796cc52084536e24cf50d92f2916b78cc5233145588a",
    RL_V1: "39ee7e88d8d6443cb9c4667caa636ca238bf2e4dd216c79ae10416d715017d68",
}


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line(excinfo):
    text = str(excinfo.value)
    assert "\n" not in text, text
    return text


def _equal_state(a, b):
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(autouse=True)
def _goldens_unchanged():
    yield
    for path, sha in GOLDEN_SHA256.items():
        assert _sha(path) == sha, f"{path} was rewritten"


def test_the_goldens_are_the_old_formats():
    old = {p: torch.load(p, weights_only=True) for p in GOLDEN_SHA256}
    assert old[DISTILL_V1]["format"] == "a2d.distill-phase/1"
    assert old[DISTILL_V1]["kind"] == "supernet"
    assert old[RL_V1]["format"] == "a2d.supernet/1"
    assert supernet_method(old[DISTILL_V1]) == "distill"
    assert supernet_method(old[RL_V1]) == "rl"


def test_an_old_distillation_supernet_is_reused_by_selection():
    """`--supernet DIR` (`start.check_start` -> `load_supernet`) of a pre-v2 run."""
    net, path = load_supernet(str(DISTILL_V1.parent), "ALE/Pong-v5", 6)
    assert path == DISTILL_V1
    old = torch.load(DISTILL_V1, weights_only=True)
    assert net.space == SearchSpace.from_dict(old["space"]) and net.space.name == "micro"
    _equal_state(net.state_dict(), old["model"])
    for arch in net.space.candidates():  # every path the selection judges extracts and acts
        agent = net.space.extract(net, arch)
        logits, _ = agent(torch.zeros(2, 4, 84, 84, dtype=torch.uint8))
        assert logits.shape == (2, 6)
    with pytest.raises(A2DError, match="trained on ALE/Pong-v5, not on ALE/Breakout-v5"):
        load_supernet(str(DISTILL_V1), "ALE/Breakout-v5", 4)


def _phase_loop(model, path, kind, space=None):
    class NoEnvs:
        num_envs, n_actions = 4, 6

    cfg = SearchConfig(select="gradient")  # alpha's optimizer is kept too
    meta = {"env_id": cfg.env, "n_actions": 6, "kind": kind}
    if space is not None:
        meta["space"] = space.to_dict()
    return DistillLoop(cfg=cfg, phase=PhaseSettings(cfg.env, 10, 10, 0, 1, 10, False),
                       run_dir=path.parent, checkpoint_path=path, model=model, teacher=None,
                       collector=NoEnvs(), logger=NullLogger(), state=LoopState(),
                       replay=None, holdout=None, hooks=[], meta=meta)  # fmt: skip


def test_a_distillation_supernet_round_trips_through_v2(tmp_path):
    """The old file restored into the phase's loop, checkpointed as v2, read back the same."""
    old = load_phase(DISTILL_V1)
    space = SearchSpace.from_dict(old["space"])
    path = tmp_path / "supernet.pt"
    loop = _phase_loop(Supernet(space, 6), path, "supernet", space)
    loop.restore(old)
    loop.state = LoopState.from_checkpoint(old)
    loop.checkpoint()
    new = load_phase(path)
    assert new["format"] == FORMAT and new["method"] == "distill" and new["kind"] == "supernet"
    assert new["space"] == old["space"] and new["env_id"] == "ALE/Pong-v5"
    assert (new["step"], new["n_actions"]) == (old["step"], 6)
    _equal_state(new["model"], old["model"])
    assert new["numpy_rng"] == old["numpy_rng"] and new["collects"] == old["collects"]
    net, _ = load_supernet(str(tmp_path), "ALE/Pong-v5", 6)
    _equal_state(net.state_dict(), old["model"])
    again = _phase_loop(Supernet(space, 6), tmp_path / "x.pt", "supernet", space)
    again.restore(new)  # a v2 checkpoint resumes the phase
    _equal_state(again.model.state_dict(), old["model"])


def test_a_plain_nets_phase_keeps_its_format(tmp_path):
    """finish.pt stays `a2d.distill-phase/1`, and is no supernet to select from."""
    old = load_phase(DISTILL_V1)
    space = SearchSpace.from_dict(old["space"])
    net = load_supernet(str(DISTILL_V1), "ALE/Pong-v5", 6)[0]
    agent = space.extract(net, space.from_genes([0]))
    path = tmp_path / "finish.pt"
    _phase_loop(agent, path, "finish").checkpoint()
    ckpt = load_phase(path)
    assert ckpt["format"] == "a2d.distill-phase/1" and ckpt["kind"] == "finish"
    assert supernet_method(ckpt) is None
    with pytest.raises(A2DError, match="no trained supernet at"):
        load_supernet(str(path), "ALE/Pong-v5", 6)


def test_an_old_rl_run_resumes_and_writes_v2(tmp_path, capsys):
    """`a2d search --resume` of a pre-v2 `a2d search-rl` run killed at step 20 of 40."""
    run = tmp_path / "rl"
    shutil.copytree(RL_V1.parent, run)
    old = load_search_checkpoint(run / "supernet.pt")
    assert old["step"] == 20 and old["format"] == "a2d.supernet/1"
    assert main(["search", "--resume", str(run), "--no-progress"]) == 0
    assert "done: 40 steps" in capsys.readouterr().out
    new = load_search_checkpoint(run / "supernet.pt")
    assert new["format"] == FORMAT and new["method"] == "rl" and new["step"] == 40
    assert new["space"] == old["space"] and new["updates"] == old["updates"] + 1
    assert not torch.equal(new["model"]["alpha"], old["model"]["alpha"])  # it trained on
    assert json.loads((run / "search.json").read_text())["preset"] == "micro"


def test_an_rl_supernet_round_trips_through_v2(tmp_path):
    old = load_search_checkpoint(RL_V1)
    state = {k: v for k, v in old.items() if k != "format"}
    path = tmp_path / "supernet.pt"
    write_supernet(path, "rl", state)
    new = load_search_checkpoint(path)
    assert new["format"] == FORMAT and new["method"] == "rl"
    assert new.keys() - {"method"} == old.keys()
    plain = ("env_id", "n_actions", "step", "updates", "space", "trajectory", "config")
    assert all(new[k] == old[k] for k in plain)
    assert torch.equal(new["rng"], old["rng"]) if torch.is_tensor(old["rng"]) else True
    net = Supernet(SearchSpace.from_dict(new["space"]), new["n_actions"])
    net.load_state_dict(new["model"])  # what a resumed search builds
    a_opt = torch.optim.Adam(net.arch_parameters())
    a_opt.load_state_dict(new["alpha_optimizer"])
    _equal_state(net.state_dict(), old["model"])


def test_another_methods_supernet_is_refused_in_one_line(tmp_path):
    distill_v2 = tmp_path / "d" / "supernet.pt"
    distill_v2.parent.mkdir()
    write_supernet(distill_v2, "distill", dict(load_phase(DISTILL_V1), format=None))
    rl_v2 = tmp_path / "r" / "supernet.pt"
    rl_v2.parent.mkdir()
    write_supernet(rl_v2, "rl", dict(load_search_checkpoint(RL_V1), format=None))
    for rl in (RL_V1, rl_v2):  # `--supernet` of an RL run
        with pytest.raises(A2DError) as e:
            load_supernet(str(rl.parent), "ALE/Pong-v5", 6)
        assert "method 'rl'" in _one_line(e) and "RL-driven search" in _one_line(e)
        with pytest.raises(A2DError, match="method 'rl'"):
            load_phase(rl)
    for distill in (DISTILL_V1, distill_v2):  # an RL resume of a distillation run
        with pytest.raises(A2DError) as e:
            load_search_checkpoint(distill)
        assert "method 'distill'" in _one_line(e)
    for supernet in (RL_V1, rl_v2, distill_v2):  # no supernet is an agent
        with pytest.raises(A2DError) as e:
            load_checkpoint(supernet)
        assert "is a search supernet, not an agent" in _one_line(e)


def test_foreign_and_malformed_files_are_refused_in_one_line(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint\n at all")
    unknown = tmp_path / "unknown.pt"
    torch.save({"format": FORMAT, "method": "evolution", "step": 1}, unknown)
    bare = tmp_path / "bare.pt"
    torch.save({"step": 1, "model": {}}, bare)
    listed = tmp_path / "listed.pt"
    torch.save([1, 2, 3], listed)
    for path in (garbage, unknown, bare, listed):
        for read in (
            lambda p: read_supernet(p, "rl"),
            lambda p: read_supernet(p, "distill"),
            lambda p: load_supernet(str(p), "ALE/Pong-v5", 6),
            load_search_checkpoint,
        ):
            with pytest.raises(A2DError) as e:
                read(path)
            assert str(path) in _one_line(e)
    with pytest.raises(ValueError, match="lacks"):
        write_supernet(tmp_path / "x.pt", "rl", {"step": 1})
    with pytest.raises(ValueError, match="unknown search method"):
        write_supernet(tmp_path / "x.pt", "evolution", {})
    assert not (tmp_path / "x.pt").exists()
