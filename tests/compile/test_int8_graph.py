"""The INT8 graph rewrites: what ORT runs after them, and that they change nothing but rounding."""

from collections import Counter
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from a2d_edge.compile.int8_graph import REWRITES, applied_rewrites, constant, rewrite_int8
from a2d_edge.compile.quantize import RECIPES, quantize_int8, recipe_for
from a2d_edge.export.frames import gather_frames
from a2d_edge.export.onnx_export import compare, export_onnx, ort_predict
from a2d_edge.nets import build_agent, load_arch

HOST = recipe_for("host").name  # the recipe this host's exports use
ORT_RECIPES = [name for name, r in RECIPES.items() if r.rewrites]

EXPECTED = {
    "nature": ["frames_in", "flatten_nhwc", "merge_heads"],
    "resnet20": ["frames_in", "pool_quantised", "merge_heads"],
}


def _shift_trunk_biases(model: nn.Module) -> None:
    """Non-zero trunk biases (and BN shifts, folded into conv biases on export), as a trained
    agent has: a fresh agent's are all zero and would hide a wrongly scaled int32 bias."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.features.modules():  # type: ignore[union-attr]
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
                m.bias.copy_(torch.rand(m.bias.shape, generator=gen) * 0.2 - 0.1)
            if isinstance(m, nn.BatchNorm2d):
                m.bias.copy_(torch.rand(m.bias.shape, generator=gen) * 0.2 - 0.1)


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def agent(request):
    torch.manual_seed(0)
    model = build_agent(load_arch(request.param), 6).eval()
    _shift_trunk_biases(model)
    calib = gather_frames(model, "ALE/Pong-v5", 64, seed=0)
    held_out = gather_frames(model, "ALE/Pong-v5", 128, seed=1)
    fp32 = export_onnx(model)
    plain = quantize_int8(fp32, calib, HOST, rewrites=())
    rewritten, applied = rewrite_int8(plain)
    return SimpleNamespace(name=request.param, fp32=fp32, plain=plain, rewritten=rewritten,
                           applied=applied, calib=calib, held_out=held_out)  # fmt: skip


def ort_graph(model: bytes, tmp_path) -> list[onnx.NodeProto]:
    """The graph ORT actually runs (all optimisations, this CPU)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    return list(onnx.load(str(tmp_path / "optimised.onnx")).graph.node)


def test_valid_and_records_its_rewrites(agent):
    model = onnx.load_from_string(agent.rewritten)
    onnx.checker.check_model(model, full_check=True)
    assert agent.applied == EXPECTED[agent.name]
    assert applied_rewrites(agent.rewritten) == agent.applied
    assert applied_rewrites(agent.plain) == []


def test_frames_feed_the_first_conv_directly(agent):
    graph = onnx.load_from_string(agent.rewritten).graph
    readers = [n for n in graph.node if "frames" in n.input]
    assert [n.op_type for n in readers] == ["DequantizeLinear"]
    dq = readers[0]
    assert constant(graph, dq.input[1]) == np.float32(1 / 255)
    zero = constant(graph, dq.input[2])
    assert zero is not None and zero.dtype == np.uint8 and zero == 0
    (conv,) = [n for n in graph.node if dq.output[0] in n.input]
    assert conv.op_type == "Conv" and conv.input[0] == dq.output[0]
    # its int32 bias is in units of the new input scale x the weight scale (what ORT assumes)
    bias_dq = next(n for n in graph.node if n.output[0] == conv.input[2])
    weight_dq = next(n for n in graph.node if n.output[0] == conv.input[1])
    weight_scale = constant(graph, weight_dq.input[1])
    assert weight_scale is not None
    np.testing.assert_allclose(constant(graph, bias_dq.input[1]), weight_scale / 255, rtol=1e-6)
    assert not any(n.op_type in ("Cast", "Mul", "Div") for n in graph.node)


def test_what_ort_runs(agent, tmp_path):
    plain = Counter(n.op_type for n in ort_graph(agent.plain, tmp_path))
    nodes = ort_graph(agent.rewritten, tmp_path)
    ops = Counter(n.op_type for n in nodes)
    first = [n for n in nodes if "frames" in n.input]
    assert [n.op_type for n in first] == ["Transpose"]  # to NHWC, straight into the QLinearConv
    (conv,) = [n for n in nodes if first[0].output[0] in n.input]
    assert conv.op_type == "QLinearConv"
    convs = sum(n.op_type == "Conv" for n in onnx.load_from_string(agent.fp32).graph.node)
    assert ops["QLinearConv"] == plain["QLinearConv"] == convs
    for gone in ("Cast", "QLinearMul", "QuantizeLinear", "ReduceMean"):
        assert ops[gone] == 0, gone
    assert plain["Cast"] == plain["QLinearMul"] == 1
    assert ops["Transpose"] == 1  # only the frames' (the NHWC -> NCHW ones cancelled)
    assert ops["DequantizeLinear"] == 1 and ops["Gemm"] == 1  # one fp32 read of the fc output
    assert ops["QGemm"] == 1  # the fc stays quantised
    if agent.name == "resnet20":
        assert ops["QLinearGlobalAveragePool"] == 1
    assert sum(ops.values()) < sum(plain.values())


def test_agrees_with_fp32_and_the_plain_qdq_graph(agent):
    fp32, plain, rewritten = (ort_predict(m) for m in (agent.fp32, agent.plain, agent.rewritten))
    vs_fp32 = compare(fp32, rewritten, agent.held_out)
    assert vs_fp32["action_agreement"] >= 0.99
    assert vs_fp32["logits_max_abs_diff"] < 0.01
    assert vs_fp32["value_max_abs_diff"] < 0.1
    before = compare(fp32, plain, agent.held_out)
    assert vs_fp32["logits_max_abs_diff"] < 2 * before["logits_max_abs_diff"] + 1e-4
    vs_plain = compare(plain, rewritten, agent.held_out)
    assert vs_plain["action_agreement"] >= 0.99 and vs_plain["logits_max_abs_diff"] < 0.01


def test_rewrites_are_idempotent(agent):
    again, applied = rewrite_int8(agent.rewritten)
    assert applied == []
    assert onnx.load_from_string(again).graph == onnx.load_from_string(agent.rewritten).graph


@pytest.mark.parametrize("name", sorted(REWRITES))
def test_each_rewrite_alone_keeps_the_outputs(agent, name):
    alone, applied = rewrite_int8(agent.plain, (name,))
    assert applied == ([name] if name in EXPECTED[agent.name] else [])
    frames = agent.held_out[:32]
    stats = compare(ort_predict(agent.plain), ort_predict(alone), frames)
    assert stats["action_agreement"] == 1.0 and stats["logits_max_abs_diff"] < 0.01


@pytest.mark.parametrize("agent", ["nature"], indirect=True)
def test_quantize_int8_applies_them_for_ort_recipes_only(agent):
    calib = agent.calib[:16]
    assert applied_rewrites(quantize_int8(agent.fp32, calib, HOST)) == EXPECTED["nature"]
    trt = onnx.load_from_string(quantize_int8(agent.fp32, calib, "tensorrt"))
    assert [n.op_type for n in trt.graph.node if "frames" in n.input] == ["Cast"]
    with pytest.raises(ValueError, match="no graph rewrites"):
        quantize_int8(agent.fp32, calib, "tensorrt", rewrites=("frames_in",))
    with pytest.raises(ValueError, match="unknown INT8 rewrites"):
        rewrite_int8(agent.plain, ("nope",))


class Scaled(nn.Module):
    """Frames scaled by a Div (not ActorCritic's Mul) or not at all, into a padded conv."""

    def __init__(self, divide: bool) -> None:
        super().__init__()
        self.divide = divide
        self.conv = nn.Conv2d(4, 8, 3, stride=2, padding=1)
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.float() / 255.0 if self.divide else x.float()
        h = torch.relu(self.conv(x)).mean(dim=(2, 3))
        return self.head(h), h.sum(1)


@pytest.mark.parametrize("divide", [True, False])
def test_frames_scaled_by_a_division_or_not_at_all(divide, tmp_path):
    torch.manual_seed(0)
    model = Scaled(divide).eval()
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 200, (48, 4, 84, 84), dtype=np.uint8)  # max < 255: a real requant
    fp32 = export_onnx(model)  # type: ignore[arg-type]
    plain = quantize_int8(fp32, frames[:16], HOST, rewrites=())
    rewritten, applied = rewrite_int8(plain, ("frames_in",))
    assert applied == ["frames_in"]
    graph = onnx.load_from_string(rewritten).graph
    (dq,) = [n for n in graph.node if "frames" in n.input]
    assert dq.op_type == "DequantizeLinear"
    assert constant(graph, dq.input[1]) == np.float32(1 / 255 if divide else 1)
    assert "QLinearConv" in Counter(n.op_type for n in ort_graph(rewritten, tmp_path))
    ref, got = ort_predict(fp32)(frames[16:]), ort_predict(rewritten)(frames[16:])
    for r, g in zip(ref, got, strict=True):
        assert np.abs(r - g).max() < 0.02 * np.abs(r).max()


@pytest.mark.parametrize("recipe", ORT_RECIPES)
@pytest.mark.parametrize("agent", ["nature"], indirect=True)
def test_every_ort_recipe_takes_the_rewrites(agent, recipe, tmp_path):
    """Each recipe's QDQ graph gets its rewrites, ORT runs every conv as a QLinearConv, and
    the rewritten graph computes what the plain one does (compared in exact arithmetic, so
    that this host's own int8 kernels do not decide it)."""
    plain = quantize_int8(agent.fp32, agent.calib[:32], recipe, rewrites=())
    rewritten, applied = rewrite_int8(plain, RECIPES[recipe].rewrites)
    assert applied == [r for r in EXPECTED["nature"] if r in RECIPES[recipe].rewrites]
    assert applied_rewrites(quantize_int8(agent.fp32, agent.calib[:32], recipe)) == applied
    nodes = ort_graph(rewritten, tmp_path)
    convs = sum(n.op_type == "Conv" for n in onnx.load_from_string(agent.fp32).graph.node)
    assert Counter(n.op_type for n in nodes)["QLinearConv"] == convs
    exact = [ort_predict(m, exact=True) for m in (plain, rewritten)]
    stats = compare(*exact, agent.held_out[:64])
    assert stats["action_agreement"] >= 0.99 and stats["logits_max_abs_diff"] < 0.01


def test_the_profiler_times_the_rewritten_stem():
    from a2d_edge.hw.backends import onnx_bytes, quantize_qdq
    from a2d_edge.hw.profile import fixed_parts
    from a2d_edge.nets.space import SPACES
    from a2d_edge.runtime.backends import ort_session

    stem = fixed_parts(SPACES["edge"], (84, 84), 6)["stem"]
    model = quantize_qdq(onnx_bytes(stem.module, stem.example), stem.example)
    assert applied_rewrites(model) == ["frames_in"]
    (out,) = ort_session(model).run(None, {"x": stem.example.numpy()})
    with torch.no_grad():
        ref = stem.module(stem.example).numpy()
    assert out.shape == ref.shape and np.abs(out - ref).max() < 0.05 * np.abs(ref).max() + 1e-3


@pytest.mark.parametrize("recipe", ORT_RECIPES)
def test_each_recipe_computes_the_stem_exactly_in_exact_arithmetic(recipe):
    """The uint8 frames times 8-bit weights are what overflow a VPMADDUBSW int16 pair sum
    (2 x 255 x 127 > 2^15 - 1) on a CPU without VNNI; computed as the QDQ graph says (the
    export's check for a target that is not this host) every recipe is within rounding."""
    from a2d_edge.hw.backends import onnx_bytes, random_calibration
    from a2d_edge.hw.profile import fixed_parts
    from a2d_edge.nets.space import SPACES
    from a2d_edge.runtime.backends import ort_session

    stem = fixed_parts(SPACES["edge"], (84, 84), 6)["stem"]
    fp32 = onnx_bytes(stem.module, stem.example)
    model = quantize_int8(fp32, random_calibration(stem.example), recipe, input_name="x")
    (out,) = ort_session(model, optimize=False).run(None, {"x": stem.example.numpy()})
    with torch.no_grad():
        ref = stem.module(stem.example).numpy()
    assert np.abs(out - ref).max() < 0.05 * np.abs(ref).max() + 1e-3
