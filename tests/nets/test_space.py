import logging

import pytest
import torch

from a2d_edge.errors import A2DError
from a2d_edge.hw.flops import fvcore_flops
from a2d_edge.nets import (
    SPACES,
    SearchSpace,
    build_agent,
    get_space,
    load_arch,
    random_arch,
    searched_arch,
)
from a2d_edge.nets.ops import OPS, OpDef, OpRegistry


def _fvcore_no_bn(module: torch.nn.Module, x: torch.Tensor) -> int:
    from fvcore.nn import FlopCountAnalysis

    logging.getLogger("fvcore").setLevel(logging.ERROR)
    fa = FlopCountAnalysis(module.eval(), x)
    fa.unsupported_ops_warnings(False)
    fa.uncalled_modules_warnings(False)
    return int(fa.total() - fa.by_operator().get("batch_norm", 0))


def test_registry_rejects_duplicates_and_lists_names_on_miss():
    reg = OpRegistry()
    op = OpDef("x", lambda a, b, s: torch.nn.Identity(), lambda *a: 0)
    reg.register(op)
    with pytest.raises(ValueError, match="twice"):
        reg.register(op)
    with pytest.raises(A2DError, match="valid ops: conv_k3, conv_k5"):
        OPS["conv_k7"]


def test_paper_space_is_the_papers():
    space = get_space("paper")
    assert space.n_blocks == 14 and len(space.ops) == 9
    assert [n for n, _, _ in space.stages] == [5, 4, 5]
    assert len(space.ops) ** space.n_blocks == 9**14
    assert space.blocks()[0].h == 42  # the paper's space runs at 42x42 after the stem
    assert get_space("edge").blocks()[0].h == 21


@pytest.mark.parametrize("preset", list(SPACES))
def test_analytic_flops_match_fvcore_for_every_op_and_block_shape(preset):
    space = get_space(preset)
    shapes = {(b.c_in, b.c_out, b.stride, b.h, b.w) for b in space.blocks()}
    for c_in, c_out, stride, h, w in sorted(shapes):
        for name in space.ops:
            op = OPS[name]
            x = torch.zeros(1, c_in, h, w)
            expected = _fvcore_no_bn(op.build(c_in, c_out, stride), x)
            assert op.flops(c_in, c_out, stride, h, w) == expected, (name, c_in, c_out, stride, h)


@pytest.mark.parametrize("preset", list(SPACES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_whole_arch_flops_match_fvcore(preset, seed):
    arch = random_arch(preset, seed)
    model = build_agent(arch, 6)
    fv = _fvcore_no_bn(model, torch.zeros(1, 4, 84, 84, dtype=torch.uint8))
    assert get_space(preset).arch_flops(arch["ops"], 6) == fv
    assert fvcore_flops(model) >= fv  # fvcore's own total adds BatchNorm
    assert fvcore_flops(model, batchnorm=False) == fv


@pytest.mark.parametrize("preset", list(SPACES))
@pytest.mark.parametrize("size", [84, 64])
def test_random_archs_build_and_run_at_any_input_size(preset, size):
    if get_space(preset).head == "flatten" and size != 84:
        pytest.skip("a flattening head is built for the env's 84x84 frames, like the Nature CNN")
    for seed in range(4):
        arch = random_arch(preset, seed)
        assert random_arch(preset, seed) == arch  # deterministic
        model = build_agent(load_arch(arch), 5)
        logits, value = model(torch.randint(0, 256, (2, 4, size, size), dtype=torch.uint8))
        assert logits.shape == (2, 5) and value.shape == (2,)


def test_bad_searched_archs_are_refused():
    arch = random_arch("paper", 0)
    with pytest.raises(A2DError, match="list of 14"):
        load_arch({**arch, "ops": arch["ops"][:3]})
    with pytest.raises(A2DError, match="not candidates"):
        load_arch({**arch, "ops": ["conv_k7"] * 14})
    with pytest.raises(A2DError, match="malformed search space"):
        load_arch({**arch, "space": {"name": "x"}})
    with pytest.raises(A2DError, match="unknown search-space preset"):
        get_space("huge")
    assert searched_arch(get_space("edge"), ["skip"] * 14)["ops"] == ["skip"] * 14


def test_the_fast_space_flattens_and_spans_its_cost_range():
    space = get_space("fast")
    assert space.head_shape() == (64, 6, 6) and space.fc_in() == 64 * 36
    cheapest = searched_arch(space, ["skip"] * space.n_blocks)
    model = build_agent(cheapest, 6)
    assert model.features.fc.in_features == 2304  # flatten, not pooling
    # skip with a projection where width or stride changes: 16->16 identity, then 3 1x1 convs
    stem = 4 * 16 * 16 * 22 * 22
    skips = 16 * 32 * 11 * 11 + 32 * 64 * 6 * 6
    head = 2304 * 128 + 128 * 7
    assert space.arch_flops(cheapest["ops"], 6) == stem + skips + head
    assert "head" not in get_space("edge").to_dict()  # the default head leaves old records equal
    assert SearchSpace.from_dict(space.to_dict()) == space
    with pytest.raises(A2DError, match="head must be one of"):
        SearchSpace.from_dict({**space.to_dict(), "head": "attention"})


def test_the_clis_offer_exactly_the_presets_that_exist():
    # a2d-profile and a2d search list the presets without importing torch: keep them in step
    from a2d_edge.hw.cli import parser
    from a2d_edge.nets.widths import WIDTH_SPACES
    from a2d_edge.search.config import SearchConfig

    profile = next(a for a in parser()._actions if a.dest == "preset")
    assert set(profile.choices) == {*SPACES, *WIDTH_SPACES}
    search = SearchConfig.__dataclass_fields__["preset"].metadata["choices"]
    assert set(search) == {"auto", *SPACES, *WIDTH_SPACES}
