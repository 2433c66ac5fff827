"""DCGAN generator and discriminator (Radford et al. 2016), used from chapter 2 on.

Canonical choices: transposed convolutions up, strided convolutions down (no pooling), batch
norm everywhere except the generator's output and the discriminator's input, ReLU in G and
LeakyReLU(0.2) in D, tanh output in [-1, 1], weights drawn from N(0, 0.02^2). The discriminator
returns a logit (the losses in `ganret_lib.losses` apply the sigmoid stably).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class DCGANConfig:
    nz: int = 100  # latent size
    ngf: int = 64  # generator width: channels of its last hidden layer
    ndf: int = 64  # discriminator width: channels of its first layer
    nc: int = 1  # image channels (1 for Fashion-MNIST, 3 for colour)
    image_size: int = 32  # 32 (28x28 padded by 2) or 64

    def __post_init__(self):
        if self.image_size not in (32, 64):
            raise ValueError(f"image_size must be 32 or 64, got {self.image_size}")

    @property
    def n_stages(self) -> int:  # stride-2 stages between 4x4 and the image
        return int(math.log2(self.image_size)) - 2


class Generator(nn.Module):
    """z (nz x 1 x 1) -> (ngf*2^(s-1)) x 4 x 4 -> ... doubling the side, halving channels ... -> nc x S x S."""

    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        width = cfg.ngf * 2 ** (cfg.n_stages - 1)
        layers = [nn.ConvTranspose2d(cfg.nz, width, 4, 1, 0, bias=False),  # width x 4 x 4
                  nn.BatchNorm2d(width), nn.ReLU(True)]
        for _ in range(cfg.n_stages - 1):  # (width/2) x 2H x 2W
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, cfg.nc, 4, 2, 1, bias=False), nn.Tanh()]  # nc x S x S
        self.net = nn.Sequential(*layers)
        self.nz = cfg.nz

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(len(z), self.nz, 1, 1))


class Discriminator(nn.Module):
    """nc x S x S -> ndf x S/2 x S/2 -> ... halving the side, doubling channels ... -> 4 x 4 -> logit."""

    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        width = cfg.ndf
        layers = [nn.Conv2d(cfg.nc, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]  # ndf x S/2
        for _ in range(cfg.n_stages - 1):  # (2 width) x H/2 x W/2
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, True)]
            width *= 2
        self.features = nn.Sequential(*layers)  # width x 4 x 4
        self.head = nn.Conv2d(width, 1, 4, 1, 0, bias=False)  # 1 x 1 x 1: the logit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).view(-1)


class Encoder(Discriminator):
    """The discriminator's architecture with a vector head: image -> code of `out_dim` (chapter 4).

    Used as the autoencoder's encoder and as the encoder that inverts a trained generator.
    """

    def __init__(self, cfg: DCGANConfig, out_dim: int | None = None):
        super().__init__(cfg)
        self.out_dim = out_dim or cfg.nz
        self.head = nn.Conv2d(self.head.in_channels, self.out_dim, 4, 1, 0)  # out_dim x 1 x 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).flatten(1)


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights ~ N(0, 0.02^2); batch-norm scale ~ N(1, 0.02^2), shift 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def build_dcgan(cfg: DCGANConfig, seed: int = 0) -> tuple[Generator, Discriminator]:
    """A freshly initialised (G, D) pair; the seed fixes the initial weights."""
    torch.manual_seed(seed)
    G, D = Generator(cfg), Discriminator(cfg)
    G.apply(init_weights)
    D.apply(init_weights)
    return G, D


def n_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class MaxPool2(nn.MaxPool2d):
    """`nn.MaxPool2d(2)` with a faster path where no gradient is needed (feature extraction).

    Two element-wise maxima of strided views give the same values as the pooling kernel (a
    maximum is exact, NaN propagates in both) in about a third of its time on a CPU. Where a
    gradient flows, the kernel runs: its backward sends a tie's gradient to one input, where
    `torch.maximum` would split it, and training must not change."""

    def __init__(self):
        super().__init__(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (torch.is_grad_enabled() and x.requires_grad) or x.shape[-1] % 2 or x.shape[-2] % 2:
            return super().forward(x)
        rows = torch.maximum(x[..., 0::2, :], x[..., 1::2, :])
        return torch.maximum(rows[..., 0::2], rows[..., 1::2])
