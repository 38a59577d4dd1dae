"""tools/rlzoo_resume.py's pure parts: which checkpoint resumes, and rl-zoo's schedules."""

import pytest

from tools.rlzoo_resume import latest_checkpoint, sb3_kwargs


def test_the_checkpoint_with_most_steps_resumes(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    for steps in (100000, 900000, 1000000):
        (tmp_path / f"rl_model_{steps}_steps.zip").write_bytes(b"")
    (tmp_path / "rl_model_x_steps.zip").write_bytes(b"")
    (tmp_path / "best_model.zip").write_bytes(b"")
    assert latest_checkpoint(tmp_path) == (tmp_path / "rl_model_1000000_steps.zip", 1000000)


def test_rl_zoos_linear_schedules_and_env_entries():
    pytest.importorskip("rl_zoo3")
    hp = {"policy": "CnnPolicy", "n_envs": 8, "frame_stack": 4, "n_timesteps": 1e7,
          "env_wrapper": ["x"], "learning_rate": "lin_2.5e-4", "n_steps": 128}  # fmt: skip
    kw = sb3_kwargs(hp)
    assert set(kw) == {"learning_rate", "n_steps"} and kw["n_steps"] == 128
    assert kw["learning_rate"](1.0) == pytest.approx(2.5e-4)  # progress remaining 1 -> 0
    assert kw["learning_rate"](0.5) == pytest.approx(1.25e-4)
