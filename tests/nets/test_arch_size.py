"""Arch fields are bounded by what fits in memory: one line naming the field (or the count) and
the limit, before anything is built; the analytic counts hold for the nets that are built."""

from __future__ import annotations

import copy

import pytest

from a2d_edge.errors import A2DError
from a2d_edge.nets import PRESETS, build_agent, get_space, load_arch, random_arch, validate_arch
from a2d_edge.nets.arch import MAX_ACTIVATIONS, MAX_LAYERS, MAX_PARAMS, MAX_WIDTH
from a2d_edge.nets.backbones import _resnet_size
from a2d_edge.nets.searched import _searched_size
from a2d_edge.nets.space import SearchSpace

NATURE = {"schema": "a2d.arch/1", "family": "nature", "hidden": 512}
RESNET = copy.deepcopy(PRESETS["resnet20"])


def _with(arch: dict, **fields) -> dict:  # type: ignore[type-arg]
    return {**copy.deepcopy(arch), **fields}


def _searched(ops: list[str] | None = None, **space_fields) -> dict:  # type: ignore[type-arg]
    arch = random_arch("fast", seed=0)
    arch["space"].update(space_fields)
    if ops is not None:
        arch["space"]["ops"] = arch["ops"] = ops
    return arch


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        (_with(NATURE, hidden=1_000_000_000),
         f"arch field 'hidden' is 1,000,000,000; at most {MAX_WIDTH:,} fits in memory"),
        (_with(NATURE, channels=[32, 64, 10**6]), f"at most {MAX_WIDTH:,} per layer"),
        (_with(NATURE, hidden=MAX_WIDTH, channels=[MAX_WIDTH] * 3),
         f"parameter count is 19,868,483,584; at most {MAX_PARAMS:,}"),
        (_with(RESNET, depth=6 * 1000 + 2), f"'depth' is 6,002; at most {MAX_LAYERS:,}"),
        (_with(RESNET, feature_dim=10**9), "'feature_dim' is 1,000,000,000"),
        (_with(RESNET, depth=1202, stem_stride=1),
         f"feature-map values per frame is 197,794,048; at most {MAX_ACTIVATIONS:,}"),
        (_searched(feature_dim=10**9), "search space field 'feature_dim' is 1,000,000,000"),
        (_searched(stem_channels=10**6), "'stem_channels' is 1,000,000"),
        (_searched(stages=[[5000, 16, 1]]), "block count is 5,000"),
        (_searched(["conv_k3"], stem_stride=1, stem_channels=4096, stages=[[1, 4096, 1]]),
         "a searched arch's parameter count is"),
        (_searched(["skip"], stem_stride=1, stem_channels=8192, stages=[[1, 16, 1]]),
         "a searched arch's feature-map values per frame is"),
    ],
)  # fmt: skip
def test_an_arch_too_large_for_memory_is_one_line(arch, message):
    with pytest.raises(A2DError) as e:
        validate_arch(arch)
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_fits(name):
    validate_arch(load_arch(name))


@pytest.mark.parametrize("preset", ["paper", "edge", "fast", "tiny"])
def test_every_arch_of_the_search_spaces_fits_and_its_count_bounds_the_built_one(preset):
    arch = random_arch(preset, seed=3)
    validate_arch(arch)
    features = build_agent(arch, 6).features
    params, _ = _searched_size(SearchSpace.from_dict(arch["space"]), arch["ops"])
    weights = sum(p.numel() for p in features.parameters() if p.dim() > 1)  # convs, fc
    assert weights <= params <= 1.1 * sum(p.numel() for p in features.parameters())
    assert get_space(preset).n_blocks <= MAX_LAYERS


@pytest.mark.parametrize("name", ["resnet14", "resnet20", "resnet74"])
def test_the_resnet_count_matches_the_built_net(name):
    arch = load_arch(name)
    features = build_agent(arch, 6).features
    weights = sum(p.numel() for p in features.parameters() if p.dim() > 1)  # convs, fc
    params, _ = _resnet_size(arch["depth"], arch["channels"], arch["stem_stride"],
                             arch["feature_dim"])  # fmt: skip
    assert params == weights


def test_the_nature_count_matches_the_built_net():
    from a2d_edge.nets.backbones import NatureCNN

    for hidden, channels in ((512, (32, 64, 64)), (128, (8, 16, 16)), (300, (5, 7, 9))):
        arch = _with(NATURE, hidden=hidden, channels=list(channels))
        validate_arch(arch)
        net = NatureCNN(4, hidden, channels=channels)
        params = sum(p.numel() for p in net.parameters())
        assert params < MAX_PARAMS
        c1, c2, c3 = channels
        assert (
            params
            == 4 * 64 * c1 + c1 * 16 * c2 + c2 * 9 * c3 + c3 * 49 * hidden + sum(channels) + hidden
        )
