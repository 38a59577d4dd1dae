"""The Space protocol, over every preset of both kinds (`nets.spaces.SPACES`)."""

import random

import pytest
import torch

from a2d_edge.errors import A2DError
from a2d_edge.hw.flops import fvcore_flops
from a2d_edge.nets import build_agent
from a2d_edge.nets.space import SearchSpace, random_arch, random_archs
from a2d_edge.nets.spaces import SPACE_KINDS, SPACES, Space, get_space, space_from_dict
from a2d_edge.nets.widths import WidthSpace

NAMES = list(SPACES)
SMALL = 20_000  # candidates() is enumerated where the space holds at most this many archs


def test_spaces_hold_every_op_preset_and_the_width_spaces():
    assert {"paper", "edge", "fast", "tiny", "nature-widths"} <= set(SPACES)
    assert {n for n, s in SPACES.items() if s.kind == "widths"} == {"nature-widths"}
    assert {"ops": SearchSpace, "widths": WidthSpace} == SPACE_KINDS
    with pytest.raises(A2DError, match="unknown search space 'nope'; spaces: paper, edge"):
        get_space("nope")
    with pytest.raises(A2DError, match="unknown space kind 'depth'"):
        space_from_dict({"kind": "depth"})


@pytest.mark.parametrize("name", NAMES)
def test_samples_are_contained_and_their_genes_round_trip(name):
    space: Space = SPACES[name]
    rng = random.Random(0)
    counts = space.choice_counts()
    for _ in range(10):
        arch = space.sample(rng)
        assert space.contains(arch)
        genes = space.genes(arch)
        assert len(genes) == len(counts) and all(
            0 <= g < c for g, c in zip(genes, counts, strict=True)
        )
        assert space.from_genes(genes) == arch
        assert len(space.label(arch)) == len(counts)
    others = [s for s in SPACES.values() if s != space]
    for other in others:
        foreign = other.sample(random.Random(1))
        assert not space.contains(foreign)
        with pytest.raises(A2DError):
            space.genes(foreign)


@pytest.mark.parametrize("name", NAMES)
def test_the_record_round_trips_by_its_kind(name):
    space = SPACES[name]
    d = space.to_dict()
    assert ("kind" in d) == (space.kind == "widths")  # an op space's record is today's
    assert space_from_dict(d) == space
    assert type(space_from_dict(d)).from_dict(d) == space


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", [0, 1])
def test_flops_are_fvcores_count_of_the_plain_agent(name, seed):
    space = SPACES[name]
    arch = space.sample(random.Random(seed))
    assert space.flops(arch, 6) == fvcore_flops(build_agent(arch, 6), batchnorm=False)
    if isinstance(space, SearchSpace):  # the implementations' own counts agree
        assert space.flops(arch, 6) == space.arch_flops(arch["ops"], 6)
    else:
        assert space.flops(arch, 6) == space.widths_flops(space.widths_of(arch), 6)


@pytest.mark.parametrize("name", NAMES)
def test_extract_is_the_supernet_on_a_one_hot_path(name):
    space = SPACES[name]
    torch.manual_seed(0)
    net = space.supernet(5)
    assert net.space == space and net.n_actions == 5
    obs = torch.randint(0, 256, (3, space.in_channels, 84, 84), dtype=torch.uint8)
    for seed in range(2):
        arch = space.sample(random.Random(seed))
        genes = space.genes(arch)
        path = torch.zeros(len(genes), max(space.choice_counts()))
        path[torch.arange(len(genes)), torch.tensor(genes)] = 1.0
        agent = space.extract(net, arch).eval()
        net.eval()
        with torch.no_grad():
            logits, values = net(obs, path)
            p_logits, p_values = agent(obs)
        assert torch.allclose(logits, p_logits, atol=1e-5)
        assert torch.allclose(values, p_values, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_candidates_are_every_arch_once_in_product_order(name):
    space = SPACES[name]
    counts = space.choice_counts()
    size = 1
    for c in counts:
        size *= c
    assert space.size() == size
    if size > SMALL:
        pytest.skip(f"{size} archs: not enumerated")
    archs = list(space.candidates())
    assert len(archs) == space.size()
    assert archs[0] == space.from_genes((0,) * len(counts))
    assert archs[-1] == space.from_genes(tuple(c - 1 for c in counts))
    assert len({tuple(space.genes(a)) for a in archs}) == len(archs)
    assert [space.genes(a) for a in archs[:3]] == sorted(space.genes(a) for a in archs[:3])


@pytest.mark.parametrize("name", [n for n in NAMES if SPACES[n].kind == "ops"])
def test_an_op_spaces_sample_is_random_arch_draw_for_draw(name):
    space = SPACES[name]
    a, b = random.Random(7), random.Random(7)
    assert [space.sample(a) for _ in range(5)] == [random_arch(space, rng=b) for _ in range(5)]
    assert a.random() == b.random()  # the generators were used alike
    assert space.sample(random.Random(3)) == random_arch(name, 3)
    rng = random.Random(11)
    assert [space.sample(rng) for _ in range(4)] == random_archs(space, 4, 11)  # type: ignore[arg-type]


def test_a_width_spaces_sample_draws_one_choice_per_dimension():
    space = SPACES["nature-widths"]
    assert isinstance(space, WidthSpace)
    a, b = random.Random(5), random.Random(5)
    for _ in range(5):
        assert space.sample(a) == space.arch(tuple(b.choice(c) for c in space.choices))
        assert space.random_arch(a) == space.arch(tuple(b.choice(c) for c in space.choices))


@pytest.mark.parametrize("name", NAMES)
def test_spread_gives_n_archs_of_the_space_repeatably(name):
    space = SPACES[name]
    archs = space.spread(6, 3)
    assert len(archs) == 6 and all(space.contains(a) for a in archs)
    assert space.spread(6, 3) == archs


@pytest.mark.parametrize("name", NAMES)
def test_only_a_space_with_alpha_has_arch_parameters(name):
    space = SPACES[name]
    net = space.supernet(4)
    if space.has_alpha:
        assert net.arch_parameters() and net.probabilities() is not None
        assert space.contains(net.derive())
        ids = {id(p) for p in net.weight_parameters()}
        assert not ids & {id(p) for p in net.arch_parameters()}
    else:
        assert net.arch_parameters() == [] and net.probabilities() is None
        with pytest.raises(A2DError, match="no architecture logits"):
            net.derive()
