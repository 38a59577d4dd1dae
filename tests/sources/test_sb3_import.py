"""`a2d import` of real SB3 / sb3-contrib models built here (random init, saved by SB3's own
`save`): parity with SB3's own policy outputs, and every refusal in one line with nothing
written."""

import base64
import io
import json
import pickle
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from a2d_edge.cli import main
from a2d_edge.sources.checkpoint import load_agent

sb3 = pytest.importorskip("stable_baselines3")

FRAMES = "24"  # parity frames played on import (a few hundred by default)


class FakeAtari(gym.Env):
    """Just the spaces SB3 builds a policy from (never stepped)."""

    def __init__(self, obs=None, action=None):
        self.observation_space = obs or spaces.Box(0, 255, (84, 84, 4), np.uint8)
        self.action_space = action or spaces.Discrete(6)

    def reset(self, seed=None, options=None):
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, False, {}


def save(model, path: Path) -> Path:
    model.save(path)
    return path


@pytest.fixture(scope="module")
def zips(tmp_path_factory):
    d = tmp_path_factory.mktemp("sb3")
    made = {}
    torch.manual_seed(0)
    for name, cls, kw in (("ppo", sb3.PPO, {}), ("a2c", sb3.A2C, {}),
                          ("dqn", sb3.DQN, {"buffer_size": 64})):  # fmt: skip
        model = cls("CnnPolicy", FakeAtari(), seed=0, **kw)
        made[name] = (save(model, d / f"{name}.zip"), model)
    return made


def frames(n=16, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 4, 84, 84), dtype=np.uint8)


def imported(tmp_path, zip_path, *extra):
    out = tmp_path / "agent.pt"
    argv = ["import", str(zip_path), "--env", "PongNoFrameskip-v4", "--out", str(out)]
    assert main([*argv, "--parity-frames", FRAMES, *extra]) == 0
    return load_agent(out)


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_an_actor_critic_zip_imports_with_sb3s_log_probs_and_values(tmp_path, zips, algo, capsys):
    path, model = zips[algo]
    agent, ckpt = imported(tmp_path, path)
    assert "worst |Δ log π|" in capsys.readouterr().out
    obs = frames()
    with torch.no_grad():
        logits, value = agent(torch.from_numpy(obs))
        ref = model.policy.get_distribution(torch.from_numpy(obs)).distribution.logits
        ref_v = model.policy.predict_values(torch.from_numpy(obs)).squeeze(-1)
    assert torch.allclose(torch.log_softmax(logits, -1), ref, atol=1e-5)
    assert torch.allclose(value, ref_v, atol=1e-5)
    src = ckpt["source"]
    assert src["format"] == "sb3-zip" and src["algorithm"] == algo
    assert src["sb3_version"] == sb3.__version__ and len(src["sha256"]) == 64
    assert ckpt["env_id"] == "ALE/Pong-v5" and "head" not in ckpt
    assert src["parity"]["ok"] and src["parity"]["frames"] == int(FRAMES)


def test_without_sb3s_pipeline_the_parity_frames_come_from_a2ds_env(
    tmp_path, zips, monkeypatch, capsys
):
    monkeypatch.setattr("a2d_edge.sources.importer._sb3_env", lambda env_id, seed: None)
    _, ckpt = imported(tmp_path, zips["a2c"][0])
    assert ckpt["source"]["parity"]["pipeline"] == "a2d's env"
    assert "(a2d's env)" in capsys.readouterr().out


def test_a_dqn_zip_imports_as_a_value_based_teacher(tmp_path, zips):
    path, model = zips["dqn"]
    agent, ckpt = imported(tmp_path, path, "--temperature", "0.5")
    assert ckpt["head"] == {"kind": "q", "temperature": 0.5}
    obs = torch.from_numpy(frames())
    with torch.no_grad():
        logits, value = agent(obs)
        q = model.q_net(obs)
    assert torch.equal(logits.argmax(-1), q.argmax(-1))  # SB3's greedy action
    assert torch.allclose(logits, q / 0.5, atol=1e-5)
    expected_v = (torch.softmax(q / 0.5, -1) * q).sum(-1)
    assert torch.allclose(value, expected_v, atol=1e-6)


def test_a_qrdqn_zip_imports_with_the_quantiles_mean_as_q(tmp_path):
    contrib = pytest.importorskip("sb3_contrib")
    model = contrib.QRDQN("CnnPolicy", FakeAtari(), buffer_size=64, seed=1,
                          policy_kwargs={"n_quantiles": 7})  # fmt: skip
    agent, ckpt = imported(tmp_path, save(model, tmp_path / "qr.zip"))
    assert ckpt["source"]["algorithm"] == "qrdqn"
    obs = torch.from_numpy(frames())
    with torch.no_grad():
        q = model.policy.quantile_net(obs).mean(dim=1)
        logits, _ = agent(obs)
    assert torch.allclose(logits * 0.01, q, atol=1e-6)  # the default temperature, 0.01
    assert torch.equal(logits.argmax(-1), q.argmax(-1))


def cleanrl_trunk(*head):
    """CleanRL's Atari `network`: the Nature CNN as one Sequential (`network.{0,2,4,7}`), then
    `head` (its DQN's Q layer is `network.9`)."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(4, 32, 8, stride=4), nn.ReLU(), nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
        nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(), nn.Flatten(), nn.Linear(3136, 512), nn.ReLU(),
        *head,
    )  # fmt: skip


class CleanRLAgent(torch.nn.Module):
    """CleanRL's ppo_atari.py `Agent` (its layout, its forward)."""

    def __init__(self, n):
        super().__init__()
        self.network = cleanrl_trunk()
        self.actor = torch.nn.Linear(512, n)
        self.critic = torch.nn.Linear(512, 1)

    def forward(self, x):
        h = self.network(x / 255.0)
        return self.actor(h), self.critic(h)


class CleanRLQNetwork(torch.nn.Module):
    """CleanRL's dqn_atari.py `QNetwork`."""

    def __init__(self, n):
        super().__init__()
        self.network = cleanrl_trunk(torch.nn.Linear(512, n))

    def forward(self, x):
        return self.network(x / 255.0)


def test_cleanrl_state_dicts_import_with_their_own_outputs(tmp_path):
    torch.manual_seed(3)
    ppo, dqn = CleanRLAgent(6), CleanRLQNetwork(6)
    torch.save(ppo.state_dict(), tmp_path / "ppo.cleanrl_model")
    torch.save(dqn.state_dict(), tmp_path / "dqn.cleanrl_model")
    obs = torch.from_numpy(frames())
    agent, ckpt = imported(tmp_path, tmp_path / "ppo.cleanrl_model")
    with torch.no_grad():
        logits, value = agent(obs)
        ref_logits, ref_v = ppo(obs.float())
    assert ckpt["source"]["layout"] == "cleanrl-ppo"
    assert torch.allclose(logits, ref_logits, atol=1e-5)
    assert torch.allclose(value, ref_v.squeeze(-1), atol=1e-5)
    (tmp_path / "agent.pt").unlink()
    agent, ckpt = imported(tmp_path, tmp_path / "dqn.cleanrl_model")
    with torch.no_grad():
        assert torch.equal(agent(obs)[0].argmax(-1), dqn(obs.float()).argmax(-1))
    assert ckpt["source"]["algorithm"] == "dqn" and ckpt["head"]["kind"] == "q"


def test_an_rl_zoo_run_folder_imports_its_final_model(tmp_path, zips):
    folder = tmp_path / "PongNoFrameskip-v4_1"
    folder.mkdir()
    (folder / "PongNoFrameskip-v4.zip").write_bytes(zips["ppo"][0].read_bytes())
    (folder / "best_model.zip").write_bytes(zips["a2c"][0].read_bytes())
    _, ckpt = imported(tmp_path, folder)
    assert ckpt["source"]["file"] == "PongNoFrameskip-v4.zip"


def _rewrite_zip(src: Path, dst: Path, edit) -> Path:
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    edit(members)
    with zipfile.ZipFile(dst, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return dst


class Payload:
    """Unpickling this creates a file: what a hostile zip would carry."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickle_payload_in_data_is_never_unpickled(tmp_path, zips):
    marker = tmp_path / "pwned"

    def edit(members):
        data = json.loads(members["data"])
        payload = base64.b64encode(pickle.dumps(Payload(marker))).decode()
        data["policy_class"][":serialized:"] = payload
        data["observation_space"][":serialized:"] = payload
        members["data"] = json.dumps(data).encode()

    hostile = _rewrite_zip(zips["ppo"][0], tmp_path / "hostile.zip", edit)
    imported(tmp_path, hostile)  # imports from the plain fields alone
    assert not marker.exists()


def test_a_pickle_payload_as_weights_is_refused_in_one_line(tmp_path, zips, capsys):
    marker = tmp_path / "pwned"

    def edit(members):
        buf = io.BytesIO()
        torch.save({"features_extractor.cnn.0.weight": Payload(marker)}, buf)
        members["policy.pth"] = buf.getvalue()

    hostile = _rewrite_zip(zips["ppo"][0], tmp_path / "hostile.zip", edit)
    out = tmp_path / "agent.pt"
    argv = ["import", str(hostile), "--env", "Pong", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "policy.pth is not plain weights" in err and "\n" not in err
    assert not marker.exists() and not out.exists()


def test_a_legacy_channel_last_zip_is_said_in_one_line(tmp_path, zips, capsys):
    def edit(members):
        data = json.loads(members["data"])
        data["observation_space"]["_shape"] = "[84, 84, 4]"
        members["data"] = json.dumps(data).encode()

    legacy = _rewrite_zip(zips["ppo"][0], tmp_path / "legacy.zip", edit)
    imported(tmp_path, legacy)
    notes = [line for line in capsys.readouterr().out.splitlines() if "channel-last" in line]
    assert len(notes) == 1


def _refused(tmp_path, capsys, source, what, env="PongNoFrameskip-v4"):
    out = tmp_path / "refused" / "agent.pt"
    assert main(["import", str(source), "--env", env, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert what in err and "\n" not in err, err
    assert not out.parent.exists()  # nothing written


class MyExtractor(sb3.common.torch_layers.NatureCNN):
    pass


@pytest.mark.parametrize(
    ("name", "build", "what"),
    [
        ("custom", lambda: sb3.A2C("CnnPolicy", FakeAtari(),
                                   policy_kwargs={"features_extractor_class": MyExtractor}),
         "custom features extractor"),
        ("noshare", lambda: sb3.PPO("CnnPolicy", FakeAtari(),
                                    policy_kwargs={"share_features_extractor": False}),
         "share_features_extractor=False"),
        ("netarch", lambda: sb3.PPO("CnnPolicy", FakeAtari(), policy_kwargs={"net_arch": [64]}),
         "net_arch=[64]"),
        ("nonorm", lambda: sb3.PPO("CnnPolicy", FakeAtari(),
                                   policy_kwargs={"normalize_images": False}),
         "normalize_images=False"),
        ("continuous", lambda: sb3.PPO("CnnPolicy", FakeAtari(action=spaces.Box(-1, 1, (2,)))),
         "not Discrete"),
        ("multi", lambda: sb3.PPO("MultiInputPolicy", FakeAtari(
            obs=spaces.Dict({"screen": spaces.Box(0, 255, (84, 84, 4), np.uint8)}))),
         "MultiInputPolicy"),
        ("mlp", lambda: sb3.PPO("MlpPolicy", FakeAtari(obs=spaces.Box(-1, 1, (8,)))),
         "ActorCriticPolicy is unsupported"),
        ("shape", lambda: sb3.PPO("CnnPolicy", FakeAtari(
            obs=spaces.Box(0, 255, (64, 64, 3), np.uint8))), "observation shape (3, 64, 64)"),
    ],
)  # fmt: skip
def test_an_unsupported_sb3_model_is_refused_in_one_line(tmp_path, capsys, name, build, what):
    _refused(tmp_path, capsys, save(build(), tmp_path / f"{name}.zip"), what)


def test_vecnormalize_statistics_beside_the_model_are_refused(tmp_path, zips, capsys):
    folder = tmp_path / "PongNoFrameskip-v4_1"
    (folder / "PongNoFrameskip-v4").mkdir(parents=True)
    (folder / "PongNoFrameskip-v4.zip").write_bytes(zips["ppo"][0].read_bytes())
    (folder / "PongNoFrameskip-v4" / "vecnormalize.pkl").write_bytes(b"stats")
    _refused(tmp_path, capsys, folder, "VecNormalize")


def test_bad_sources_and_envs_are_refused_in_one_line(tmp_path, zips, capsys):
    _refused(tmp_path, capsys, zips["ppo"][0], "acts with 6 actions", env="Breakout")
    _refused(tmp_path, capsys, zips["ppo"][0], "unknown env id", env="NoSuchGame-v4")
    _refused(tmp_path, capsys, tmp_path / "missing.zip", "no such source")
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    _refused(tmp_path, capsys, tmp_path / "junk.zip", "not an SB3 model zip")
    torch.save({"conv.weight": torch.zeros(2)}, tmp_path / "other.pt")
    _refused(tmp_path, capsys, tmp_path / "other.pt", "no known layout")


def test_an_existing_out_is_never_overwritten(tmp_path, zips, capsys):
    out = tmp_path / "agent.pt"
    out.write_bytes(b"precious")
    argv = ["import", str(zips["ppo"][0]), "--env", "Pong", "--out", str(out)]
    assert main(argv) == 2
    assert "exists" in capsys.readouterr().err and out.read_bytes() == b"precious"


def test_a_zip_given_where_an_agent_is_expected_names_the_import(tmp_path, zips, capsys):
    assert main(["eval", str(zips["ppo"][0]), "--episodes", "1"]) == 2
    assert "a2d import" in capsys.readouterr().err


def test_an_imported_value_based_agent_teaches_a_distillation(tmp_path):
    torch.manual_seed(4)
    torch.save(CleanRLQNetwork(6).state_dict(), tmp_path / "dqn.cleanrl_model")
    imported(tmp_path, tmp_path / "dqn.cleanrl_model")
    out = tmp_path / "student"
    argv = ["distill", "--env", "ALE/Pong-v5", "--teacher", str(tmp_path / "agent.pt"),
            "--arch", "nature-thin", "--num-envs", "4", "--finish-steps", "16",
            "--frames-per-update", "8", "--batch-size", "16", "--replay-size", "256",
            "--holdout-size", "256", "--final-episodes", "0", "--eval-every", "0",
            "--no-progress", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    _, ckpt = load_agent(out / "agent.pt")
    assert "head" not in ckpt  # the student is an actor-critic of its own


def test_a_published_import_keeps_its_head_and_provenance(tmp_path, zips):
    """`tools/publish_zoo.py` on an imported value-based agent: the shipped agent is still
    softmax(Q/τ) (the head travels), and its card names the source, not a path on this host."""
    from tools.publish_zoo import publish

    agent, ckpt = imported(tmp_path, zips["dqn"][0])
    card = publish(tmp_path / "agent.pt", "dqn-t", episodes=1, zoo_dir=tmp_path / "zoo",
                   command="python -m rl_zoo3.train ...", wall_seconds=123.0)  # fmt: skip
    shipped, shipped_ckpt = load_agent(tmp_path / "zoo" / "dqn-t.pt")
    assert shipped_ckpt["head"] == ckpt["head"] == card["head"]
    assert shipped_ckpt["source"] == ckpt["source"]
    assert card["source"]["sha256"] == ckpt["source"]["sha256"] and "path" not in card["source"]
    assert card["training"]["wall_seconds"] == 123.0
    obs = torch.from_numpy(frames())
    with torch.no_grad():
        for a, b in zip(shipped(obs), agent(obs), strict=True):
            torch.testing.assert_close(a, b, atol=0.05, rtol=0.01)  # fp16 weights only
