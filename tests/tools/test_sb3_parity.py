"""tools/sb3_parity.py's pure parts: the SB3 predict adapter and the gap in SEs."""

import numpy as np
import pytest

from tools.sb3_parity import SB3Predictor, se_gap


def test_the_gap_is_in_standard_errors_of_the_difference():
    # means 10 and 13, stds 3 and 4 over 25 episodes: SE = sqrt((9 + 16) / 25) = 1 -> 3 SEs
    assert se_gap((10.0, 3.0), (13.0, 4.0), 25) == pytest.approx(3.0)
    assert se_gap((5.0, 0.0), (5.0, 0.0), 30) == 0.0


def test_the_predictor_acts_as_sb3_asks():
    torch = pytest.importorskip("torch")
    from a2d_edge.nets import build_agent, load_arch

    model = build_agent(load_arch("nature-thin"), 6).eval()
    obs = np.random.default_rng(0).integers(0, 256, (3, 4, 84, 84), dtype=np.uint8)
    greedy, state = SB3Predictor(model).predict(obs, deterministic=True)
    with torch.no_grad():
        assert greedy.tolist() == model(torch.from_numpy(obs))[0].argmax(-1).tolist()
    sampled, _ = SB3Predictor(model, seed=1).predict(obs)
    assert state is None and sampled.shape == (3,) and ((sampled >= 0) & (sampled < 6)).all()
