"""The elastic-width Nature space: slicing, the archs it holds, its FLOPs and its refusals."""

import numpy as np
import pytest
import torch

from a2d_edge.errors import A2DError
from a2d_edge.hw.flops import fvcore_flops
from a2d_edge.nets import PRESETS, build_agent
from a2d_edge.nets.widths import ElasticNature, WidthSpace, get_width_space, path_from_weights
from a2d_edge.search.paths import largest_path, one_hot, smallest_path

SPACE = get_width_space("nature-widths")


@pytest.mark.parametrize("path", [(0, 0, 0, 0), (3, 3, 3, 3), (1, 2, 0, 3), (2, 0, 3, 1)])
def test_a_path_of_the_elastic_net_is_the_plain_net_of_its_widths(path):
    torch.manual_seed(0)
    net = ElasticNature(SPACE, 4)
    arch = SPACE.arch(SPACE.widths(path))
    plain = net.extract(arch)
    obs = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    logits, values = net(obs, one_hot(list(path), SPACE.n_choices))
    p_logits, p_values = plain(obs)
    assert torch.allclose(logits, p_logits, atol=1e-6) and torch.allclose(
        values, p_values, atol=1e-6
    )


def test_the_extracted_weights_are_copies_not_views():
    net = ElasticNature(SPACE, 4)
    plain = net.extract(SPACE.arch((16, 32, 32, 256)))
    with torch.no_grad():
        plain.features.convs[0].weight.zero_()
    assert net.features.convs[0].weight[:16].abs().sum() > 0


def test_the_space_holds_the_nature_cnn_and_the_hand_made_baselines():
    assert len(SPACE.archs()) == 4**4 == len(set(map(str, SPACE.archs())))
    for name in ("nature", "nature-half", "nature-thin", "nature-quarter"):
        widths = SPACE.widths_of(PRESETS[name])
        assert SPACE.arch(widths)["hidden"] == PRESETS[name]["hidden"]
    assert SPACE.widths_of(PRESETS["nature-half"]) == (16, 32, 32, 256)
    assert SPACE.contains(PRESETS["nature"]) and not SPACE.contains(PRESETS["resnet14"])


@pytest.mark.parametrize("widths", [(8, 16, 16, 128), (16, 32, 32, 256), (32, 64, 64, 512)])
def test_flops_are_fvcores_count(widths):
    agent = build_agent(SPACE.arch(widths), 4)
    assert SPACE.widths_flops(widths, 4) == fvcore_flops(agent, batchnorm=False)


def test_hand_computed_flops_of_the_narrowest_arch():
    # conv1 4*64*8 x 20x20, conv2 8*16*16 x 9x9, conv3 16*9*16 x 7x7, fc 16*49*128, heads 128*5
    expected = 4 * 64 * 8 * 400 + 8 * 16 * 16 * 81 + 16 * 9 * 16 * 49 + 16 * 49 * 128 + 128 * 5
    assert SPACE.widths_flops((8, 16, 16, 128), 4) == expected


def test_the_sandwich_paths_are_the_widest_and_the_narrowest():
    cost = ElasticNature(SPACE, 4).path_costs()
    assert SPACE.widths(largest_path(cost)) == (32, 64, 64, 512)
    assert SPACE.widths(smallest_path(cost)) == (8, 16, 16, 128)


def test_bad_spaces_archs_and_paths_are_one_line_errors():
    with pytest.raises(A2DError, match="same number of choices"):
        WidthSpace("x", ((8, 16), (16,), (16, 32), (64, 128)))
    with pytest.raises(A2DError, match="increasing"):
        WidthSpace("x", ((16, 8), (16, 32), (16, 32), (64, 128)))
    with pytest.raises(A2DError, match="not in space"):
        SPACE.widths_of(SPACE.arch((12, 32, 32, 256)))
    with pytest.raises(A2DError, match="nature-family"):
        SPACE.widths_of(PRESETS["resnet14"])
    with pytest.raises(A2DError, match="malformed width space"):
        WidthSpace.from_dict({"name": "x"})
    assert WidthSpace.from_dict(SPACE.to_dict()) == SPACE
    with pytest.raises(ValueError, match="one-hot"):
        path_from_weights(torch.full((4, 4), 0.25))
    assert path_from_weights(one_hot([3, 0, 1, 2], 4)) == [3, 0, 1, 2]
    assert np.array_equal(SPACE.path_costs()[0], [8, 16, 24, 32])


def test_a_random_arch_draws_every_width_of_every_dimension():
    import random

    space = get_width_space("nature-widths")
    rng = random.Random(0)
    drawn = [space.widths_of(space.random_arch(rng)) for _ in range(400)]
    for d, choices in enumerate(space.choices):
        assert {w[d] for w in drawn} == set(choices)  # each width of the dimension is drawn
    assert space.random_arch(random.Random(3)) == space.random_arch(random.Random(3))
