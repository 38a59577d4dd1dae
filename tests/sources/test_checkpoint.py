import pickle

import pytest
import torch

from a2d_edge.errors import A2DError
from a2d_edge.nets import build_agent, load_arch
from a2d_edge.sources.checkpoint import load_agent, load_checkpoint, save_checkpoint


def _ckpt(model, **over):
    base = {
        "arch": load_arch("nature"),
        "env_id": "ALE/Pong-v5",
        "obs_shape": [4, 84, 84],
        "n_actions": 6,
        "step": 123,
        "model": model.state_dict(),
    }
    return {**base, **over}


def test_round_trip(tmp_path):
    model = build_agent(load_arch("nature"), 6)
    save_checkpoint(tmp_path / "a.pt", _ckpt(model))
    loaded, meta = load_agent(tmp_path / "a.pt")
    assert meta["step"] == 123
    x = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    model.eval()
    assert torch.equal(loaded(x)[0], model(x)[0])
    assert not list(tmp_path.glob(".*.tmp"))  # no temp files left behind


def test_corrupt_truncated_and_foreign_files_are_refused(tmp_path):
    model = build_agent(load_arch("nature"), 6)
    good = tmp_path / "a.pt"
    save_checkpoint(good, _ckpt(model))
    data = good.read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "noise.pt").write_bytes(b"\x00garbage" * 100)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "pickle.pt").write_bytes(pickle.dumps(Evil()))
    torch.save({"hello": torch.zeros(1)}, tmp_path / "foreign.pt")
    for name in ("trunc.pt", "noise.pt", "pickle.pt", "foreign.pt"):
        with pytest.raises(A2DError):
            load_checkpoint(tmp_path / name)
    with pytest.raises(A2DError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_weights_that_do_not_match_the_arch_are_refused(tmp_path):
    model = build_agent(load_arch("resnet14"), 6)
    save_checkpoint(tmp_path / "a.pt", _ckpt(model))  # arch says nature
    with pytest.raises(A2DError, match="do not match"):
        load_agent(tmp_path / "a.pt")


def test_zoo_miss_lists_what_exists():
    with pytest.raises(A2DError, match="no agent zoo:nope"):
        load_checkpoint("zoo:nope")
