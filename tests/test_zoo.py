"""Every shipped agent: its card and its weights agree, and it loads and acts."""

import hashlib
import json

import pytest
import torch

from a2d_edge.envs import action_meanings
from a2d_edge.rl.checkpoint import load_agent
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


def test_the_zoo_lists_its_agents():
    assert {"pong", "pong-small"} <= set(available())
