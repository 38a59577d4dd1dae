import numpy as np
import pytest

from a2d_edge.envs import (
    AtariSettings,
    EpisodeTracker,
    action_meanings,
    evaluate_policy,
    list_env_ids,
    make_vec_env,
    resolve_game,
)
from a2d_edge.errors import A2DError


@pytest.mark.parametrize(
    ("env_id", "rom"),
    [
        ("ALE/Pong-v5", "pong"),
        ("PongNoFrameskip-v4", "pong"),
        ("ALE/MsPacman-v5", "ms_pacman"),
        ("ALE/SpaceInvaders-v5", "space_invaders"),
        ("breakout", "breakout"),
    ],
)
def test_resolve_game(env_id, rom):
    assert resolve_game(env_id) == rom


@pytest.mark.parametrize("bad", ["ALE/NotAGame-v5", "", "gym:CartPole-v1"])
def test_unknown_env_id_is_a_clear_error(bad):
    with pytest.raises(A2DError, match="a2d envs"):
        resolve_game(bad)


def test_list_env_ids_round_trip():
    ids = list_env_ids()
    assert "ALE/Pong-v5" in ids and "ALE/MsPacman-v5" in ids
    assert all(resolve_game(i) for i in ids)


def test_vec_env_shapes_and_dtypes():
    env = make_vec_env("ALE/Breakout-v5", 3, AtariSettings())
    try:
        obs, info = env.reset(seed=1)
        assert obs.shape == (3, 4, 84, 84) and obs.dtype == np.uint8
        obs, r, term, trunc, info = env.step(np.zeros(3, dtype=np.int32))
        assert obs.shape == (3, 4, 84, 84) and obs.dtype == np.uint8
        assert r.shape == term.shape == trunc.shape == (3,)
        assert list(info["env_id"]) == [0, 1, 2]
    finally:
        env.close()
    assert action_meanings("ALE/Pong-v5") == [
        "NOOP",
        "FIRE",
        "RIGHT",
        "LEFT",
        "RIGHTFIRE",
        "LEFTFIRE",
    ]


def test_life_loss_terminal_only_when_asked():
    """Breakout: life losses end training 'episodes' but not games."""
    rng = np.random.default_rng(0)
    for life_loss in (True, False):
        env = make_vec_env("ALE/Breakout-v5", 2, AtariSettings(life_loss_terminal=life_loss))
        try:
            env.reset(seed=0)
            terminals = 0
            tracker_games = 0
            tracker = EpisodeTracker(2)
            tracker.reset(np.zeros(2))
            for _ in range(600):
                _, r, term, trunc, info = env.step(rng.integers(0, 4, 2).astype(np.int32))
                terminals += int((term | trunc).sum())
                tracker_games += len(tracker.update(r, term | trunc, info["episode_frame_number"]))
            if life_loss:
                assert terminals > tracker_games  # life losses are terminals, games end later
            else:
                assert terminals == tracker_games
        finally:
            env.close()


def test_episode_tracker_hand_made_sequence():
    tr = EpisodeTracker(2)
    tr.reset(np.array([8, 8]))
    assert tr.update(np.array([1.0, 2.0]), np.zeros(2, bool), np.array([12, 12])) == []
    # env 0: a life-loss terminal (frames keep counting) -> no game end
    assert tr.update(np.array([0.0, 0.0]), np.array([True, False]), np.array([16, 16])) == []
    # env 1: game over, auto-reset restarts its frame counter
    out = tr.update(np.array([5.0, -1.0]), np.array([False, True]), np.array([20, 4]))
    assert out == [(1, 1.0, 3)]
    out = tr.update(np.array([0.0, 0.0]), np.array([True, False]), np.array([2, 8]))
    assert out == [(0, 6.0, 4)]


def test_eval_protocol_plays_exactly_n_whole_games():
    calls = []

    def always_noop(obs):
        calls.append(obs.shape)
        return np.zeros(len(obs), dtype=np.int64)

    res = evaluate_policy(always_noop, "ALE/Pong-v5", episodes=3, seed=0, max_parallel=2)
    assert len(res.scores) == 3
    assert all(s == -21.0 for s in res.scores)  # a NOOP paddle loses every point
    assert {c[0] for c in calls} == {2, 1}  # two waves: 2 envs then 1
    assert res.to_dict()["episodes"] == 3


def test_a_screen_viewer_plays_the_same_game_as_the_agents_env():
    """The RGB-screen env that `a2d run --record` steps beside the agent's: same seed, same
    actions, the same rewards and episode ends, frame for frame."""
    import numpy as np

    from a2d_edge.envs import AtariSettings, make_vec_env
    from a2d_edge.envs.atari import SCREEN_SHAPE

    settings = AtariSettings()
    agent, viewer = (make_vec_env("ALE/Breakout-v5", 1, settings, screen=s) for s in (False, True))
    try:
        agent.reset(seed=3)
        screen, _ = viewer.reset(seed=3)
        assert screen.shape == (1, 1, *SCREEN_SHAPE) and screen.dtype == np.uint8
        rng = np.random.default_rng(0)
        events = 0
        for _ in range(600):
            act = rng.integers(0, 4, 1).astype(np.int32)
            _, r1, t1, u1, _ = agent.step(act)
            _, r2, t2, u2, _ = viewer.step(act)
            assert (r1 == r2).all() and (t1 == t2).all() and (u1 == u2).all()
            events += int(r1.sum() != 0) + int(t1.any())
        assert events >= 3  # bricks hit and lives lost: the two games really did the same
    finally:
        agent.close()
        viewer.close()
