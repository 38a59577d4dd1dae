"""Rewrites of the `cpu` INT8 (QDQ) graph where a plain static-quantisation pass leaves ONNX
Runtime work it need not do.

What ORT ran for the plain Nature CNN (its optimised graph and per-node profile, batch 1, one
thread): Cast -> QuantizeLinear -> QLinearMul(1/255) in front of the NHWC Transpose and the
first QLinearConv (~15% of the node time, and a requantisation of the frames to a calibrated
scale), a Transpose back to NCHW in front of the fc's Flatten, and the fc output dequantised
twice (once per head) for two fp32 Gemms. Conv+Relu already fused into QLinearConv, and the fc
into one QGemm. The ResNets and searched agents also transposed, dequantised, reduced and
requantised around their global average pool (and, for a ResNet, the stem stays fp32 unless
its int32 bias is requantised to the frames' scale).

Each rewrite is a pure function `ModelProto -> ModelProto | None` (None: its pattern is absent)
that keeps the graph valid ONNX and changes results by rounding at most:
- `frames_in`: the uint8 frames already are a quantised tensor (scale 1/255, zero-point 0), so
  the first conv reads them through one DequantizeLinear; ORT runs its QLinearConv on the frames
  themselves, and the frames lose nothing to a calibrated requantisation.
- `flatten_nhwc`: flatten the last conv's output in NHWC order (a Transpose before the
  Flatten, the fc's weight columns permuted to match), which cancels ORT's NHWC -> NCHW one.
- `pool_quantised`: global average pooling as GlobalAveragePool on the quantised tensor
  (ORT's QLinearGlobalAveragePool, in NHWC) instead of a float ReduceMean.
- `merge_heads`: the fp32 actor and critic Gemms as one Gemm and a Split, so the fc output is
  dequantised and read once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from onnx import GraphProto, ModelProto, NodeProto

Rewrite = Callable[["ModelProto"], "ModelProto | None"]
METADATA_KEY = "a2d.int8_rewrites"


# --- graph helpers ---------------------------------------------------------------------------


def _consumers(graph: GraphProto) -> dict[str, list[NodeProto]]:
    out: dict[str, list[NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            out.setdefault(name, []).append(node)
    return out


def _producers(graph: GraphProto) -> dict[str, NodeProto]:
    return {out: node for node in graph.node for out in node.output}


def _attrs(node: NodeProto) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _initializer(graph: GraphProto, name: str) -> np.ndarray | None:
    from onnx import numpy_helper

    for init in graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    return None


def _set_initializer(graph: GraphProto, name: str, value: np.ndarray) -> None:
    from onnx import numpy_helper

    tensor = numpy_helper.from_array(np.ascontiguousarray(value), name)
    for init in graph.initializer:
        if init.name == name:
            init.CopyFrom(tensor)
            return
    graph.initializer.append(tensor)


def _node(graph: GraphProto, like: NodeProto) -> NodeProto:
    """`graph`'s node writing what `like` writes (outputs are unique, names need not be)."""
    return next(n for n in graph.node if n.output[0] == like.output[0])


def constant(graph: GraphProto, name: str) -> np.ndarray | None:
    """The value of `name` when it is constant: an initializer, a Constant node's value, or a
    DequantizeLinear of initializers (dequantised, any axis); None otherwise."""
    from onnx import numpy_helper

    value = _initializer(graph, name)
    node = _producers(graph).get(name)
    if value is not None or node is None:
        return value
    if node.op_type == "Constant":
        attr = _attrs(node).get("value")
        return None if attr is None else numpy_helper.to_array(attr)
    if node.op_type == "DequantizeLinear":
        x, scale = constant(graph, node.input[0]), constant(graph, node.input[1])
        zero = constant(graph, node.input[2]) if len(node.input) > 2 else np.zeros((), np.int32)
        if x is None or scale is None or zero is None:
            return None
        axis = _attrs(node).get("axis", 1) % max(x.ndim, 1)
        shape = [-1 if i == axis else 1 for i in range(x.ndim)] if scale.ndim == 1 else []
        scale, zero = (np.reshape(v, shape) if shape else v for v in (scale, zero))
        return ((x.astype(np.float32) - zero.astype(np.float32)) * scale).astype(np.float32)
    return None


def prune(graph: GraphProto) -> None:
    """Drop (in place) the nodes whose outputs nothing reads, then the initializers and shape
    annotations of tensors that are gone. Assumes topological order, as ONNX requires."""
    needed = {o.name for o in graph.output}
    keep: list[NodeProto] = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(keep))
    for field in (graph.initializer, graph.value_info):
        kept = [x for x in field if x.name in needed]
        del field[:]
        field.extend(kept)


def _only_consumer(consumers: dict[str, list[NodeProto]], name: str, op: str) -> NodeProto | None:
    nodes = consumers.get(name, [])
    return nodes[0] if len(nodes) == 1 and nodes[0].op_type == op else None


def _skip_qdq(consumers: dict[str, list[NodeProto]], name: str) -> str:
    """`name`, or the output of the QuantizeLinear -> DequantizeLinear pair that alone reads it."""
    q = _only_consumer(consumers, name, "QuantizeLinear")
    dq = _only_consumer(consumers, q.output[0], "DequantizeLinear") if q is not None else None
    return dq.output[0] if dq is not None else name


def _shapes(model: ModelProto) -> dict[str, list[int | str]]:
    """Tensor shapes from ONNX shape inference (each dim an int, or its symbol)."""
    from onnx import shape_inference

    inferred = shape_inference.infer_shapes(model).graph
    out: dict[str, list[int | str]] = {}
    for v in [*inferred.value_info, *inferred.input, *inferred.output]:
        t = v.type.tensor_type
        if t.HasField("shape"):
            out[v.name] = [d.dim_value if d.HasField("dim_value") else d.dim_param
                           for d in t.shape.dim]  # fmt: skip
    return out


def _copy(model: ModelProto) -> ModelProto:
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


def _finish(model: ModelProto) -> ModelProto:
    import onnx

    prune(model.graph)
    onnx.checker.check_model(model)
    return model


# --- rewrites --------------------------------------------------------------------------------


def frames_in(model: ModelProto) -> ModelProto | None:
    """A uint8 graph input -> Cast -> [Q/DQ] -> Mul(s) or Div(1/s) -> [Q/DQ] becomes one
    DequantizeLinear(input, s, 0) writing the chain's last tensor. The int32 biases of the
    layers reading it were quantised with the calibrated input scale: they are requantised to
    the new one (ORT reads a bias in units of input scale x weight scale)."""
    from onnx import TensorProto

    graph = model.graph
    consumers = _consumers(graph)
    for graph_input in graph.input:
        if graph_input.type.tensor_type.elem_type != TensorProto.UINT8:
            continue
        cast = _only_consumer(consumers, graph_input.name, "Cast")
        if cast is None or _attrs(cast).get("to") != TensorProto.FLOAT:
            continue
        chain = _scaling_chain(graph, consumers, cast.output[0])
        if chain is not None:
            return _feed_quantised(model, graph_input.name, *chain)
    return None


def _scaling_chain(
    graph: GraphProto, consumers: dict[str, list[NodeProto]], x: str
) -> tuple[str, np.float32] | None:
    """From the cast frames `x`: the last tensor of [Q/DQ] -> Mul(s) / Div(1/s) -> [Q/DQ], and
    s (1 without a Mul or Div); None when the scaling is not a positive constant, or when
    there is nothing to replace (the frames go to fp32 ops unscaled)."""
    cast, scale = x, np.float32(1.0)
    x = _skip_qdq(consumers, x)
    readers = consumers.get(x, [])
    if len(readers) == 1 and readers[0].op_type in ("Mul", "Div"):
        op = readers[0]
        other = op.input[1] if op.input[0] == x else op.input[0]
        value = constant(graph, other)
        if value is None or value.size != 1 or (op.op_type == "Div" and other != op.input[1]):
            return None
        s = float(value.reshape(()))
        scale = np.float32(s if op.op_type == "Mul" else 1.0 / s)
        x = _skip_qdq(consumers, op.output[0])
    if not np.isfinite(scale) or scale <= 0 or x == cast:
        return None
    return x, scale


def _feed_quantised(model: ModelProto, frames: str, x: str, scale: np.float32) -> ModelProto | None:
    from onnx import helper

    out = _copy(model)
    g = out.graph
    prefix = f"{frames}_uint8"
    _set_initializer(g, f"{prefix}_scale", np.array(scale, np.float32))
    _set_initializer(g, f"{prefix}_zero_point", np.array(0, np.uint8))
    g.node.remove(_producers(g)[x])
    g.node.insert(0, helper.make_node(
        "DequantizeLinear", [frames, f"{prefix}_scale", f"{prefix}_zero_point"], [x],
        name=f"{prefix}_DequantizeLinear"))  # fmt: skip
    readers = [n for n in _consumers(g).get(x, []) if n.op_type in ("Conv", "Gemm")]
    if not all(_requantise_bias(g, n, scale) for n in readers if n.input[0] == x):
        return None
    return _finish(out)


def _requantise_bias(graph: GraphProto, node: NodeProto, input_scale: np.float32) -> bool:
    """Requantise `node`'s int32 bias (a DequantizeLinear of initializers) to scale
    input_scale x weight scale, in place; False when that does not fit in int32."""
    producers = _producers(graph)
    if len(node.input) < 3 or node.input[2] not in producers:
        return True
    bias_dq, weight_dq = producers[node.input[2]], producers.get(node.input[1])
    if bias_dq.op_type != "DequantizeLinear" or weight_dq is None:
        return True
    bias_q = _initializer(graph, bias_dq.input[0])
    if bias_q is None or bias_q.dtype != np.int32:
        return True
    if len(_consumers(graph)[bias_dq.output[0]]) != 1:
        return False
    bias = constant(graph, bias_dq.output[0])
    weight_scale = _initializer(graph, weight_dq.input[1])
    if bias is None or weight_scale is None:
        return False
    new_scale = (input_scale * weight_scale.astype(np.float32)).reshape(-1).astype(np.float32)
    new_q = np.round(bias.astype(np.float64) / new_scale)
    if np.abs(new_q).max(initial=0) >= 2**31 - 1:
        return False
    _set_initializer(graph, bias_dq.input[0], new_q.astype(np.int32))
    _set_initializer(graph, bias_dq.input[1], np.broadcast_to(new_scale, bias.shape).copy())
    if len(bias_dq.input) > 2:
        _set_initializer(graph, bias_dq.input[2], np.zeros(bias.shape, np.int32))
    return True


def flatten_nhwc(model: ModelProto) -> ModelProto | None:
    """uint8 [N, C, H, W] -> DQ -> Flatten -> [Q/DQ] -> Gemm(DQ(W)) flattens in NHWC order:
    a Transpose on the uint8 tensor, the Gemm's weight columns permuted to match."""
    from onnx import helper

    graph = model.graph
    consumers, producers = _consumers(graph), _producers(graph)
    shapes = _shapes(model)
    for flatten in graph.node:
        if flatten.op_type != "Flatten" or _attrs(flatten).get("axis", 1) != 1:
            continue
        dq = producers.get(flatten.input[0])
        if dq is None or dq.op_type != "DequantizeLinear" or len(consumers[dq.output[0]]) != 1:
            continue
        if getattr(producers.get(dq.input[0]), "op_type", "") == "Transpose":
            continue  # already flattened in NHWC order (by this rewrite)
        shape = shapes.get(dq.input[0], [])
        if len(shape) != 4 or not all(isinstance(d, int) and d > 0 for d in shape[1:]):
            continue
        gemm = _only_consumer(consumers, _skip_qdq(consumers, flatten.output[0]), "Gemm")
        weight_dq = producers.get(gemm.input[1]) if gemm is not None else None
        if gemm is None or weight_dq is None or weight_dq.op_type != "DequantizeLinear":
            continue
        weight = _initializer(graph, weight_dq.input[0])
        k_axis = 1 if _attrs(gemm).get("transB", 0) else 0
        c, h, w = (int(d) for d in shape[1:])
        if weight is None or weight.ndim != 2 or weight.shape[k_axis] != c * h * w:
            continue
        scale = _initializer(graph, weight_dq.input[1])
        per_channel = scale is not None and scale.size > 1
        along_k = per_channel and _attrs(weight_dq).get("axis", 1) == k_axis
        if len(consumers[weight_dq.output[0]]) != 1 or along_k:
            continue  # shared weights, or scales along the axis being permuted
        out = _copy(model)
        g = out.graph
        nhwc_order = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)
        _set_initializer(g, weight_dq.input[0], np.take(weight, nhwc_order, axis=k_axis))
        node = _node(g, dq)
        nhwc = f"{dq.input[0]}_nhwc"
        transpose = helper.make_node(
            "Transpose", [dq.input[0]], [nhwc], perm=[0, 2, 3, 1], name=f"{dq.name}_nhwc"
        )
        g.node.insert(list(g.node).index(node), transpose)
        node.input[0] = nhwc
        return _finish(out)
    return None


def pool_quantised(model: ModelProto) -> ModelProto | None:
    """DQ -> ReduceMean(axes H, W, keepdims 0) -> Q becomes DQ -> GlobalAveragePool -> Q ->
    Transpose to [N, 1, 1, C] -> Flatten (the Transpose moves no data: it cancels ORT's own
    NHWC -> NCHW one, so the pooled tensor goes to the fc as it is)."""
    from onnx import helper

    graph = model.graph
    consumers, producers = _consumers(graph), _producers(graph)
    for node in graph.node:
        if node.op_type != "ReduceMean" or _attrs(node).get("keepdims", 1) != 0:
            continue
        axes = _attrs(node).get("axes")
        if axes is None and len(node.input) > 1:
            value = constant(graph, node.input[1])
            axes = None if value is None else value.reshape(-1).tolist()
        dq = producers.get(node.input[0])
        q = _only_consumer(consumers, node.output[0], "QuantizeLinear")
        if sorted(axes or []) != [2, 3] or q is None or dq is None:
            continue
        if dq.op_type != "DequantizeLinear":
            continue
        out = _copy(model)
        g = out.graph
        index = list(g.node).index(_node(g, node))
        t = node.output[0]
        new = [
            helper.make_node("GlobalAveragePool", [node.input[0]], [f"{t}_pool"]),
            helper.make_node("QuantizeLinear", [f"{t}_pool", *q.input[1:]], [f"{t}_q"]),
            helper.make_node("Transpose", [f"{t}_q"], [f"{t}_nhwc"], perm=[0, 2, 3, 1]),
            helper.make_node("Flatten", [f"{t}_nhwc"], [q.output[0]], axis=1),
        ]
        for suffix, n in zip(("pool", "q", "nhwc", "flatten"), new, strict=True):
            n.name = f"{node.name}_{suffix}"
        for old in (node, q):
            g.node.remove(_node(g, old))
        for i, n in enumerate(new):
            g.node.insert(index + i, n)
        return _finish(out)
    return None


def merge_heads(model: ModelProto) -> ModelProto | None:
    """Gemms with constant fp32 weights that read the same tensor (the actor and critic heads)
    become one Gemm and a Split along the output features."""
    from onnx import helper

    graph = model.graph
    for name, readers in _consumers(graph).items():
        heads = [(n, *wb) for n in readers if (wb := _head(graph, n, name)) is not None]
        if len(heads) < 2:
            continue
        out = _copy(model)
        g = out.graph
        merged = f"{name}_heads"
        _set_initializer(g, f"{merged}_weight", np.concatenate([w for _, w, _ in heads]))
        _set_initializer(g, f"{merged}_bias", np.concatenate([b for _, _, b in heads]))
        _set_initializer(g, f"{merged}_split", np.array([w.shape[0] for _, w, _ in heads]))
        first = min(list(g.node).index(_node(g, n)) for n, _, _ in heads)
        for n, _, _ in heads:
            g.node.remove(_node(g, n))
        g.node.insert(first, helper.make_node(
            "Split", [merged, f"{merged}_split"], [n.output[0] for n, _, _ in heads], axis=1,
            name=f"{merged}_Split"))  # fmt: skip
        g.node.insert(first, helper.make_node(
            "Gemm", [name, f"{merged}_weight", f"{merged}_bias"], [merged], transB=1,
            name=f"{merged}_Gemm"))  # fmt: skip
        return _finish(out)
    return None


def _head(graph: GraphProto, node: NodeProto, x: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(weight [out, in], bias [out]) of a plain fp32 Gemm `x @ W^T + b` with initializer
    weights; None for anything else."""
    a = _attrs(node)
    if node.op_type != "Gemm" or node.input[0] != x or len(node.input) < 3:
        return None
    if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
        return None
    w, b = _initializer(graph, node.input[1]), _initializer(graph, node.input[2])
    if w is None or b is None or w.ndim != 2 or w.dtype != np.float32:
        return None
    w = w if a.get("transB", 0) else w.T
    if b.size not in (1, w.shape[0]):
        return None
    return w, np.broadcast_to(b.reshape(-1), (w.shape[0],)).astype(np.float32)


REWRITES: dict[str, Rewrite] = {
    "frames_in": frames_in,
    "flatten_nhwc": flatten_nhwc,
    "pool_quantised": pool_quantised,
    "merge_heads": merge_heads,
}


def rewrite_int8(model: bytes, names: tuple[str, ...] | None = None) -> tuple[bytes, list[str]]:
    """Apply the named rewrites (all by default) in order, each wherever its pattern occurs;
    the rewritten model, which records the applied names in its metadata, and the names."""
    import onnx

    unknown = sorted(set(names or ()) - set(REWRITES))
    if unknown:
        raise ValueError(f"unknown INT8 rewrites {unknown}; known: {', '.join(REWRITES)}")
    proto = onnx.load_from_string(model)
    applied: list[str] = []
    for name in REWRITES if names is None else names:
        for _ in range(len(proto.graph.node)):  # a pattern may occur more than once
            new = REWRITES[name](proto)
            if new is None:
                break
            proto = new
            if name not in applied:
                applied.append(name)
    props = [p for p in proto.metadata_props if p.key != METADATA_KEY]
    del proto.metadata_props[:]
    proto.metadata_props.extend(props)
    proto.metadata_props.add(key=METADATA_KEY, value=",".join(applied))
    return proto.SerializeToString(), applied


def applied_rewrites(model: bytes) -> list[str]:
    """The rewrites `rewrite_int8` recorded in a model's metadata ([] for none or a plain one)."""
    import onnx

    for prop in onnx.load_from_string(model).metadata_props:
        if prop.key == METADATA_KEY:
            return [n for n in prop.value.split(",") if n]
    return []
