"""Every shipped agent: its card and its weights agree, and it loads and acts."""

import hashlib
import json

import pytest
import torch

from a2d_edge.cli import main
from a2d_edge.envs import action_meanings
from a2d_edge.errors import A2DError
from a2d_edge.sources.checkpoint import load_agent
from a2d_edge.zoo import ZOO_DIR, available


@pytest.mark.parametrize("name", available())
def test_a_shipped_agent_matches_its_card_and_acts(name):
    card = json.loads((ZOO_DIR / f"{name}.json").read_text())
    weights = ZOO_DIR / f"{name}.pt"
    assert card["name"] == f"zoo:{name}"
    assert card["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert card["size_bytes"] == weights.stat().st_size
    model, ckpt = load_agent(f"zoo:{name}")
    assert ckpt["env_id"] == card["env_id"] and ckpt["arch"] == card["arch"]
    assert ckpt["n_actions"] == card["n_actions"] == len(action_meanings(card["env_id"]))
    assert sum(p.numel() for p in model.parameters()) == card["params"]
    with torch.no_grad():
        logits, value = model(torch.zeros(2, 4, 84, 84, dtype=torch.uint8))
    assert logits.shape == (2, card["n_actions"]) and value.shape[0] == 2
    assert all(p.dtype == torch.float32 for p in model.parameters())  # fp16 restored
    assert card["eval"]["episodes"] == 30 and "command" in card["training"]


@pytest.mark.parametrize("name", available())
def test_a2d_eval_plays_a_capped_game_with_every_shipped_agent(name, capsys):
    assert main(["eval", f"zoo:{name}", "--episodes", "1", "--max-frames", "2000"]) == 0
    out = capsys.readouterr().out
    assert "capped at 2,000 frames" in out


def test_the_zoo_lists_its_agents():
    shipped = {"pong", "pong-small", "pong-tiny", "breakout", "breakout-small", "roadrunner"}
    assert shipped | {"roadrunner-small"} <= set(available())


SUPERNETS = sorted(p.stem for p in (ZOO_DIR / "supernets").glob("*.pt"))


@pytest.mark.parametrize("name", SUPERNETS)
def test_a_shipped_supernet_matches_its_card_and_a_shipped_table_of_its_space(name):
    """It loads through today's loader in the format it shipped in, and is never rewritten."""
    from pathlib import Path

    from a2d_edge.hw.table import load_table
    from a2d_edge.nets.space import SearchSpace
    from a2d_edge.search.checkpoint import load_supernet
    from a2d_edge.search.supernet_file import supernet_method

    card = json.loads((ZOO_DIR / "supernets" / f"{name}.json").read_text())
    weights = ZOO_DIR / "supernets" / f"{name}.pt"
    assert card["name"] == f"zoo:{name}" and "command" in card
    assert card["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert card["size_bytes"] == weights.stat().st_size
    mtime = weights.stat().st_mtime_ns
    supernet, _ = load_supernet(f"zoo:{name}", card["env_id"], len(action_meanings(card["env_id"])))
    assert card["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert weights.stat().st_mtime_ns == mtime  # loading writes nothing back
    raw = torch.load(weights, weights_only=True)
    assert supernet_method(raw) == "distill"  # a2d.distill-phase/1 as shipped, or v2
    assert supernet.space == SearchSpace.from_dict(card["space"])
    tables = Path(__file__).parents[1] / "latency_tables"
    spaces = {load_table(p).space.name for p in tables.glob("*.json")}
    assert supernet.space.name in spaces  # selection from it has a table here


def test_a_teachers_shipped_eval_is_its_cards():
    from a2d_edge.sources.checkpoint import shipped_eval

    card = json.loads((ZOO_DIR / "breakout.json").read_text())["eval"]
    assert shipped_eval("zoo:breakout") == card and card["episodes"] == 30
    with pytest.raises(A2DError, match="no agent zoo:nope"):
        shipped_eval("zoo:nope")  # no card, no checkpoint: the zoo's one-line error
