import json

import pytest
import torch

from a2d_edge.errors import A2DError
from a2d_edge.hw.flops import count_params, fvcore_flops
from a2d_edge.nets import PRESETS, build_agent, load_arch


@pytest.mark.parametrize("name", list(PRESETS))
def test_forward_on_a_batch(name):
    model = build_agent(load_arch(name), 6)
    x = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    logits, value = model(x)
    assert logits.shape == (3, 6) and value.shape == (3,)
    assert torch.isfinite(logits).all() and torch.isfinite(value).all()


def test_sizes_pinned():
    nature = build_agent(load_arch("nature"), 6)
    resnet20 = build_agent(load_arch("resnet20"), 6)
    assert count_params(nature) == pytest.approx(1.69e6, rel=0.01)
    assert fvcore_flops(nature) == pytest.approx(9.35e6, rel=0.01)
    assert count_params(resnet20) == pytest.approx(0.29e6, rel=0.02)
    # The paper: Vanilla has ~5.8x ResNet-20's params.
    assert count_params(nature) / count_params(resnet20) == pytest.approx(5.83, rel=0.02)
    # ResNet-20 does ~7.8x the Nature CNN's multiply-adds (at 84x84, stem stride 2).
    assert fvcore_flops(resnet20) / fvcore_flops(nature) == pytest.approx(7.8, rel=0.03)


def test_depths_scale():
    params = [count_params(build_agent(load_arch(f"resnet{d}"), 4)) for d in (14, 20, 38, 74)]
    assert params == sorted(params)


def test_uint8_scaling_happens_inside():
    model = build_agent(load_arch("nature"), 4)
    x = torch.full((1, 4, 84, 84), 255, dtype=torch.uint8)
    a = model(x)[0]
    b = model.actor(model.features(torch.ones(1, 4, 84, 84)))
    assert torch.allclose(a, b)


def test_arch_file_round_trip_and_bad_family(tmp_path):
    good = tmp_path / "arch.json"
    good.write_text(json.dumps(PRESETS["resnet14"]))
    assert load_arch(str(good)) == PRESETS["resnet14"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "a2d.arch/1", "family": "transformer"}))
    with pytest.raises(A2DError, match="unknown arch family 'transformer'"):
        load_arch(str(bad))
    with pytest.raises(A2DError, match="depth must be 6n"):
        load_arch({**PRESETS["resnet20"], "depth": 21})
    with pytest.raises(A2DError, match="schema"):
        load_arch({"family": "nature", "hidden": 512})
    with pytest.raises(A2DError, match="unknown arch 'vgg'"):
        load_arch("vgg")
    notjson = tmp_path / "x.json"
    notjson.write_text("{not json")
    with pytest.raises(A2DError, match="not valid JSON"):
        load_arch(str(notjson))
