"""Publishing an agent to the zoo: fp16 on disk, fp32 on load, a card measured on what ships."""

import json

import pytest
import torch

from a2d_edge.errors import A2DError
from a2d_edge.sources.checkpoint import load_agent, load_checkpoint
from tools.publish_zoo import publish


def test_publish_writes_fp16_weights_and_a_card(tiny_agent_ckpt, tmp_path):
    card = publish(tiny_agent_ckpt, "tiny", episodes=1, zoo_dir=tmp_path, command="a2d train x")
    shipped = torch.load(tmp_path / "tiny.pt", weights_only=True)
    assert all(v.dtype == torch.float16 for v in shipped["model"].values() if v.is_floating_point())
    assert shipped["optimizer"] == {} and shipped["rng"] == {}
    model, _ = load_agent(tmp_path / "tiny.pt")
    assert all(p.dtype == torch.float32 for p in model.parameters())
    original, _ = load_agent(tiny_agent_ckpt)
    for a, b in zip(model.parameters(), original.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)  # fp16 rounding only
    on_disk = json.loads((tmp_path / "tiny.json").read_text())
    assert on_disk == card
    assert card["eval"]["episodes"] == 1 and card["training"]["command"] == "a2d train x"
    ckpt = load_checkpoint(tiny_agent_ckpt)
    assert card["agent_steps"] == ckpt["step"]
    assert card["training"]["wall_seconds"] == round(ckpt["elapsed"], 1) > 0
    assert (tmp_path / "tiny.pt").stat().st_size < tiny_agent_ckpt.stat().st_size / 2
    assert not list(tmp_path.glob(".*tmp"))


def test_bad_names_and_sources_are_refused(tiny_agent_ckpt, tmp_path):
    with pytest.raises(A2DError, match="zoo name"):
        publish(tiny_agent_ckpt, "../evil", zoo_dir=tmp_path)
    with pytest.raises(A2DError):
        publish(tmp_path / "missing.pt", "x", zoo_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
