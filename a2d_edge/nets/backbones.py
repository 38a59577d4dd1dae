"""Manual feature extractors of the paper: Vanilla (Nature-DQN CNN) and CIFAR ResNets (App. C)."""

from __future__ import annotations

import torch
from torch import nn

from a2d_edge.errors import A2DError
from a2d_edge.nets.arch import (
    MAX_LAYERS,
    MAX_WIDTH,
    Arch,
    Family,
    check_size,
    register_family,
    require_int,
)

NATURE_CHANNELS = (32, 64, 64)


class NatureCNN(nn.Module):
    """Conv 32x8x8/4, 64x4x4/2, 64x3x3/1, then fc `hidden` (Mnih et al. 2015); `channels`
    narrows the three convs (the baselines of other widths)."""

    def __init__(self, in_channels: int = 4, hidden: int = 512, in_size: int = 84,
                 channels: tuple[int, int, int] = NATURE_CHANNELS) -> None:  # fmt: skip
        super().__init__()
        c1, c2, c3 = channels
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels, c1, 8, stride=4),
            nn.ReLU(inplace=True),
            nn.Conv2d(c1, c2, 4, stride=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(c2, c3, 3, stride=1),
            nn.ReLU(inplace=True),
        )
        side = ((in_size - 8) // 4 + 1 - 4) // 2 + 1 - 2
        self.fc = nn.Linear(c3 * side * side, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc(self.convs(x).flatten(1)))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN; a 1x1 conv-BN projection on the shortcut where the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """He et al.'s CIFAR ResNet-(6n+2) with the paper's changes: stem stride 2, fc to 256."""

    def __init__(
        self,
        depth: int,
        in_channels: int = 4,
        channels: tuple[int, int, int] = (16, 32, 64),
        stem_stride: int = 2,
        feature_dim: int = 256,
    ) -> None:
        super().__init__()
        n = (depth - 2) // 6
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels[0], 3, stem_stride, 1, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(inplace=True),
        )
        blocks: list[nn.Module] = []
        c_in = channels[0]
        for stage, c_out in enumerate(channels):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock(c_in, c_out, stride))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(channels[-1], feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        return torch.relu(self.fc(x.mean(dim=(2, 3))))


def _channels(arch: Arch, default: tuple[int, ...] | None = None) -> list[int]:
    channels = arch.get("channels", None if default is None else list(default))
    if (
        not isinstance(channels, list)
        or len(channels) != 3
        or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in channels)
    ):
        raise A2DError(
            f"{arch.get('family')} 'channels' must be 3 positive integers, got {channels!r}"
        )
    if max(channels) > MAX_WIDTH:
        raise A2DError(
            f"arch field 'channels' is {channels}; at most {MAX_WIDTH:,} per layer fits in memory"
        )
    return channels


def _validate_nature(arch: Arch) -> None:
    hidden = require_int(arch, "hidden", high=MAX_WIDTH)
    channels = tuple(_channels(arch, NATURE_CHANNELS))
    c1, c2, c3 = channels
    params = 4 * 64 * c1 + c1 * 16 * c2 + c2 * 9 * c3 + c3 * 7 * 7 * hidden + c1 + c2 + c3 + hidden
    check_size(arch, params, c1 * 20 * 20 + c2 * 9 * 9 + c3 * 7 * 7 + hidden)


def _build_nature(arch: Arch, in_channels: int) -> tuple[nn.Module, int]:
    channels = tuple(_channels(arch, NATURE_CHANNELS))
    return NatureCNN(in_channels, arch["hidden"], channels=channels), arch["hidden"]  # type: ignore[arg-type]


def _validate_resnet(arch: Arch) -> None:
    depth = require_int(arch, "depth", high=MAX_LAYERS)
    if (depth - 2) % 6 != 0:
        raise A2DError(f"resnet depth must be 6n+2 (14, 20, 38, 74, ...), got {depth}")
    channels = tuple(_channels(arch))
    stride = require_int(arch, "stem_stride", (1, 2, 4))
    dim = require_int(arch, "feature_dim", high=MAX_WIDTH)
    check_size(arch, *_resnet_size(depth, channels, stride, dim))


def _resnet_size(
    depth: int, channels: tuple[int, ...], stem_stride: int, dim: int
) -> tuple[int, int]:
    """(weights, feature-map values of one frame) of `CifarResNet`, counted by its layers."""
    side = (84 - 1) // stem_stride + 1
    params, values = 4 * 9 * channels[0], 2 * channels[0] * side * side
    c_in = channels[0]
    for stage, c in enumerate(channels):
        for i in range((depth - 2) // 6):
            stride = 2 if stage > 0 and i == 0 else 1
            side = (side - 1) // stride + 1
            shortcut = c_in * c if stride != 1 or c_in != c else 0
            params += 9 * c_in * c + 9 * c * c + shortcut
            values += 5 * c * side * side  # conv1, bn1, conv2, bn2, the sum
            c_in = c
    return params + c_in * dim, values + dim


def _build_resnet(arch: Arch, in_channels: int) -> tuple[nn.Module, int]:
    net = CifarResNet(
        arch["depth"],
        in_channels,
        tuple(arch["channels"]),  # type: ignore[arg-type]
        arch["stem_stride"],
        arch["feature_dim"],
    )
    return net, arch["feature_dim"]


register_family(Family("nature", _validate_nature, _build_nature))
register_family(Family("resnet", _validate_resnet, _build_resnet))
