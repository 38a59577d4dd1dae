"""runtime.screen: the env's preprocessing in numpy, checked against ALE's formula, OpenCV's
area tables by hand and ale-py's AtariVectorEnv on the same emulator states."""

from __future__ import annotations

import numpy as np
import pytest

from a2d_edge.envs import AtariSettings, make_vec_env
from a2d_edge.errors import A2DError
from a2d_edge.runtime.screen import AreaResize, ScreenStack, area_table, grey


def test_grey_is_ales_formula_on_every_rgb_colour():
    levels = np.arange(256, dtype=np.uint8)
    mismatches = 0
    for r in range(256):  # the whole RGB cube, a red plane at a time
        plane = np.stack(np.broadcast_arrays(np.uint8(r), levels[:, None], levels[None, :]), -1)
        rgb = plane.astype(np.float64)
        exact = rgb[..., 0] * 0.2989 + rgb[..., 1] * 0.5870 + rgb[..., 2] * 0.1140
        expected = np.floor(exact) + (exact - np.floor(exact) >= 0.5)  # C round: half up
        mismatches += int(np.count_nonzero(grey(plane) != expected))
    assert mismatches == 0


def test_grey_of_colours_exactly_on_a_half():
    # 0.2989 R + 0.5870 G + 0.1140 B is x.5 in exact arithmetic for these; in doubles, as ALE
    # computes it, the first two land on the half (rounded up), the last two just below it
    ties = np.array([[[0, 0, 250], [0, 4, 168], [0, 36, 12], [0, 80, 110]]], dtype=np.uint8)
    assert grey(ties).tolist() == [[29, 22, 22, 59]]


def test_area_tables_by_hand():
    rows = area_table(5, 2)  # scale 2.5: cells [0, 2.5) and [2.5, 5)
    assert rows.index.tolist() == [[0, 2], [1, 3], [2, 4]]
    np.testing.assert_allclose(rows.weight, [[0.4, 0.2], [0.4, 0.4], [0.2, 0.4]], rtol=1e-7)
    halves = area_table(4, 2)  # an integer scale: plain means of two
    assert halves.index.tolist() == [[0, 2], [1, 3]]
    np.testing.assert_array_equal(halves.weight, np.full((2, 2), 0.5, np.float32))
    image = np.arange(20, dtype=np.uint8).reshape(5, 4) * 10
    out = AreaResize((5, 4), (2, 2))(image)
    # row 0: 0.4 r0 + 0.4 r1 + 0.2 r2 of column pairs' means; by hand:
    expected = [[0.4 * 5 + 0.4 * 45 + 0.2 * 85, 0.4 * 25 + 0.4 * 65 + 0.2 * 105],
                [0.2 * 85 + 0.4 * 125 + 0.4 * 165, 0.2 * 105 + 0.4 * 145 + 0.4 * 185]]  # fmt: skip
    np.testing.assert_array_equal(out, np.rint(expected).astype(np.uint8))
    with pytest.raises(A2DError, match="shrinks only"):
        area_table(84, 210)


@pytest.mark.parametrize("game", ["Pong", "MsPacman"])
def test_the_stack_of_raw_screens_is_the_envs_observation(game, screen_env):
    """Pixel-identical to AtariVectorEnv on the same emulator states (measured: max |diff| 0),
    up to the first game end (where the env's frame skip breaks off and resets)."""
    settings = AtariSettings()
    env = make_vec_env(f"ALE/{game}-v5", 1, settings)
    raw = screen_env(f"ALE/{game}-v5", settings)
    stack = ScreenStack()
    try:
        obs, _ = env.reset(seed=5)
        worst = int(np.abs(stack.push(raw.reset(seed=5)).astype(int) - obs).max())
        rng = np.random.default_rng(0)
        steps = 0
        for _ in range(150):
            action = int(rng.integers(0, env.single_action_space.n))
            obs, _, term, trunc, _ = env.step(np.array([action], dtype=np.int32))
            screens, ended = raw.step(action)
            if ended or term[0] or trunc[0]:
                break
            got = stack.push(screens[-1], screens[-2])
            worst = max(worst, int(np.abs(got.astype(int) - obs).max()))
            steps += 1
    finally:
        env.close()
    assert steps > 100 and worst == 0


def test_after_a_reset_the_older_frames_are_zero_and_the_newest_is_last():
    stack = ScreenStack()
    screen = np.full((210, 160), 200, dtype=np.uint8)
    out = stack.push(screen)
    assert out.shape == (1, 4, 84, 84) and out[0, :3].max() == 0 and (out[0, 3] == 200).all()
    stack.push(np.zeros((210, 160), np.uint8))
    assert (out[0, 2] == 200).all() and out[0, 3].max() == 0  # the buffer moved on
    stack.reset()
    assert stack.stack.max() == 0
    bright = np.zeros((210, 160, 3), np.uint8)
    bright[::2] = 255  # RGB white on alternate rows: the max-pool keeps the brighter screen
    pooled = stack.push(np.zeros((210, 160, 3), np.uint8), bright)[0, 3]
    assert pooled.min() > 0


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        (np.zeros((84, 84), np.uint8), "not 84x84"),
        (np.zeros((210, 160, 4), np.uint8), "not 210x160x4"),
        (np.zeros((210, 160), np.float32), "not float32"),
        ([[0] * 160] * 210, "not list"),
    ],
)
def test_a_bad_screen_is_one_line(frame, words):
    with pytest.raises(A2DError, match=words) as e:
        ScreenStack().push(frame)
    assert "210x160x3 RGB or 210x160 grey" in str(e.value) and "\n" not in str(e.value)


def test_manifests_the_screen_pipeline_cannot_make_are_refused():
    with pytest.raises(A2DError, match="grey ones only"):
        ScreenStack.from_manifest({"grayscale": False})
    with pytest.raises(A2DError, match="observation shape"):
        ScreenStack.from_manifest({"obs_shape": [4, 300, 84]})
    assert ScreenStack.from_manifest({"obs_shape": [2, 42, 42]}).stack.shape == (1, 2, 42, 42)
    assert ScreenStack.from_manifest({"frame_skip": 4}).maxpool
    assert not ScreenStack.from_manifest({"frame_skip": 1}).maxpool
    assert not ScreenStack.from_manifest({"maxpool": False}).maxpool
