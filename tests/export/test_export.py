import json
import shutil

import pytest

from a2d_edge.cli import main
from a2d_edge.errors import A2DError
from a2d_edge.runtime.bundle import load_bundle


@pytest.fixture(scope="module")
def bundle(tiny_agent_ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("b") / "bundle"
    argv = ["export", str(tiny_agent_ckpt), "--out", str(out), "--int8", "--tensorrt", "fp16",
            "--frames", "64"]  # fmt: skip
    assert main(argv) == 0
    return out


def test_bundle_contents_and_verification(bundle):
    b = load_bundle(bundle)
    m = b.manifest
    assert m["arch"]["family"] == "nature" and m["n_actions"] == 6
    assert m["env_id"] == "ALE/Pong-v5" and m["action_meanings"][1] == "FIRE"
    names = set(m["files"])
    assert any("fp32" in n and n.endswith(".onnx") for n in names)
    assert any("int8" in n and n.endswith(".onnx") for n in names)
    v = m["verification"]
    assert v["fp32_vs_torch"]["action_agreement"] == 1.0
    assert v["fp32_vs_torch"]["logits_max_abs_diff"] < 1e-4
    assert v["int8_vs_fp32"]["action_agreement"] >= 0.99
    assert v["int8_vs_fp32"]["decisive_agreement"] >= 0.99
    assert m["int8_graph"]["rewrites"] == ["frames_in", "flatten_nhwc", "merge_heads"]
    assert v["int8_rewritten_vs_plain_qdq"]["action_agreement"] >= 0.99


def test_trtexec_command_written_without_tensorrt(bundle):
    m = load_bundle(bundle).manifest
    assert m["tensorrt"]["engine"] is None
    script = (bundle / "build_engine.sh").read_text()
    assert "trtexec --onnx=agent-fp32.onnx --saveEngine=agent-fp16.engine --fp16" in script
    assert "--shapes=frames:1x4x84x84" in script  # batch 1 of the checkpoint's obs_shape
    assert "build_engine.sh" in m["files"]


def test_onnx_is_checked_and_takes_uint8_batches(bundle):
    import numpy as np
    import onnx

    from a2d_edge.runtime.backends import ort_session

    model = onnx.load(str(bundle / "agent-fp32.onnx"))
    onnx.checker.check_model(model)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    sess = ort_session(str(bundle / "agent-fp32.onnx"))
    logits, value = sess.run(None, {"frames": np.zeros((3, 4, 84, 84), np.uint8)})
    assert logits.shape == (3, 6) and value.reshape(-1).shape == (3,)


def test_tampered_or_incomplete_bundles_are_refused(bundle, tmp_path):
    bad = tmp_path / "tampered"
    shutil.copytree(bundle, bad)
    data = bytearray((bad / "agent-int8.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bad / "agent-int8.onnx").write_bytes(bytes(data))
    with pytest.raises(A2DError, match="does not match its sha256"):
        load_bundle(bad)
    gone = tmp_path / "incomplete"
    shutil.copytree(bundle, gone)
    (gone / "agent-fp32.onnx").unlink()
    with pytest.raises(A2DError, match=r"agent-fp32\.onnx is missing"):
        load_bundle(gone)
    forged = tmp_path / "forged"
    shutil.copytree(bundle, forged)
    m = json.loads((forged / "manifest.json").read_text())
    m["files"]["../etc/passwd"] = "0" * 64
    (forged / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(A2DError, match="escapes the bundle"):
        load_bundle(forged)
    with pytest.raises(A2DError, match=r"no manifest\.json"):
        load_bundle(tmp_path)


def test_refusals_write_nothing(tiny_agent_ckpt, bundle, tmp_path, capsys):
    before = (bundle / "manifest.json").read_bytes()
    assert main(["export", str(tiny_agent_ckpt), "--out", str(bundle), "--frames", "16"]) == 2
    assert "already holds a bundle" in capsys.readouterr().err
    assert (bundle / "manifest.json").read_bytes() == before
    out = tmp_path / "strict"
    argv = ["export", str(tiny_agent_ckpt), "--out", str(out), "--int8", "--frames", "32",
            "--min-agreement", "1.01"]  # fmt: skip
    assert main(argv) == 2  # out of range: refused before any frame is gathered
    assert "'min_agreement' is 1.01; it must be >= 0 and <= 1" in capsys.readouterr().err
    from a2d_edge.export.bundle import export_bundle
    from a2d_edge.export.settings import ExportSettings

    with pytest.raises(A2DError, match="export refused"):  # a gate no model can pass
        export_bundle(str(tiny_agent_ckpt), out, ExportSettings(int8=True, frames=32,
                                                                min_agreement=1.01))  # fmt: skip
    assert not out.exists() and not list(tmp_path.glob(".strict.*"))
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    assert main(["export", str(corrupt), "--out", str(tmp_path / "c")]) == 2
    assert "corrupt or foreign checkpoint" in capsys.readouterr().err


def test_supernet_export_refused(tmp_path, capsys):
    search = tmp_path / "s"
    argv = ["search-rl",
            "--preset", "edge", "--num-envs", "4", "--steps", "20", "--out",
            str(search), "--eval-every", "0", "--no-progress", "--mode", "hard"]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["export", str(search / "supernet.pt"), "--out", str(tmp_path / "x")]) == 2
    assert "is a search supernet" in capsys.readouterr().err


@pytest.mark.trt
def test_tensorrt_engine_builds(tiny_agent_ckpt, tmp_path):
    out = tmp_path / "trt"
    argv = ["export", str(tiny_agent_ckpt), "--out", str(out), "--tensorrt", "fp16",
            "--frames", "32"]  # fmt: skip
    assert main(argv) == 0
    assert (out / "agent-fp16.engine").is_file()


def test_policy_agreement_hand_computed():
    import numpy as np

    from a2d_edge.export.onnx_export import policy_agreement

    ref = np.array([[1.0, 0.0], [0.50, 0.49], [0.0, 2.0]], dtype=np.float64)
    cand = np.array([[1.0, 0.0], [0.49, 0.50], [2.0, 0.0]], dtype=np.float64)
    a = policy_agreement(ref, cand, tie_margin=0.05)
    assert a["action_agreement"] == pytest.approx(1 / 3)
    assert a["decisive_frames"] == pytest.approx(2 / 3)  # the 0.50/0.49 frame is a tie
    assert a["decisive_agreement"] == pytest.approx(1 / 2)
    assert a["flipped_max_gap"] == pytest.approx(2.0)  # frames 2 (gap 0.01) and 3 (gap 2) flip
    # TV of frame 3: softmax(0, 2) vs softmax(2, 0): |p0 - q0| = 0.8808 - 0.1192
    assert a["policy_tv_max"] == pytest.approx(0.7616, abs=1e-4)
    assert policy_agreement(ref, cand, tie_margin=0.0)["decisive_agreement"] == pytest.approx(1 / 3)
    assert policy_agreement(ref, ref)["policy_tv_max"] == 0.0


def test_the_manifest_records_the_recipe_and_the_host_it_was_verified_on(bundle):
    from a2d_edge.compile.quantize import recipe_for
    from a2d_edge.utils.fingerprint import int8_target, this_host

    g = load_bundle(bundle).manifest["int8_graph"]
    here = this_host()
    assert g["target"] == int8_target(here) and g["recipe"] == recipe_for("host").name
    assert g["recipe_detail"]["name"] == g["recipe"]
    v = g["verified_on"]
    assert v["check"] == "kernels" and v["host"]["slug"] == here.slug
    assert v["host"]["isa"] == list(here.isa)


@pytest.mark.parametrize(
    ("isa", "target", "recipe"),
    [
        (["avx2", "fma"], "x86-avx2", "u8s8-rr"),  # VPMADDUBSW saturates: 7-bit weights
        (["avx2", "avx512f", "avx512bw"], "x86-avx2", "u8s8-rr"),  # AVX-512 without VNNI too
        (["avx2", "avx512f", "avx512_vnni", "avx512_bf16"], "x86-vnni", "u8s8"),
        (["avx2", "avx_vnni"], "x86-vnni", "u8s8"),
        (["avx512f", "amx_tile", "amx_int8"], "x86-vnni", "u8s8"),
    ],
)
def test_the_recipe_follows_the_isa(isa, target, recipe):
    from a2d_edge.compile.quantize import recipe_for
    from a2d_edge.utils.fingerprint import int8_target

    assert int8_target({"machine": "x86_64", "isa": isa}) == target
    assert recipe_for(target).name == recipe
    assert int8_target({"machine": "aarch64", "isa": ["asimd", "asimddp"]}) == "arm64"
    assert recipe_for("arm64").name == "u8s8"  # ARM's kernels sum exactly: the uint8 frames stay
    assert recipe_for("tensorrt").name == "tensorrt"


def test_another_target_is_gated_on_exact_arithmetic(tiny_agent_ckpt, tmp_path, capsys):
    from a2d_edge.utils.fingerprint import int8_target, this_host

    other = "x86-avx2" if int8_target(this_host()) == "x86-vnni" else "x86-vnni"
    out = tmp_path / "other"
    argv = ["export", str(tiny_agent_ckpt), "--out", str(out), "--int8", "--frames", "32",
            "--target", other]  # fmt: skip
    assert main(argv) == 0
    assert f"for {other}" in capsys.readouterr().out
    m = load_bundle(out).manifest
    assert m["int8_graph"]["target"] == other and m["int8_graph"]["verified_on"]["check"] == "exact"
    assert m["verification"]["int8_vs_fp32"]["arithmetic"] == "exact QDQ"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--target", "x86-vnni", "--int8-recipe", "nope"], "invalid choice"),
        (["--target", "riscv"], "invalid choice"),
    ],
)
def test_bad_targets_and_recipes_are_refused(tiny_agent_ckpt, tmp_path, flags, message, capsys):
    out = tmp_path / "x"
    assert main(["export", str(tiny_agent_ckpt), "--out", str(out), "--int8", *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
