"""Image-to-image networks: a U-Net generator and a patch discriminator (chapters 5 and 7).

Chapter 5's cleaner maps a degraded image to a clean one, chapter 7's translators map a sketch
to a photo (and back): the same two architectures, on gan-form images (1 x 32 x 32 in [-1, 1]).
The U-Net's skips carry the input's layout to the output, which is what both tasks keep; the
patch discriminator judges every 18 x 18 patch, which is what makes outputs sharp (Isola et
al. 2017). A conditional discriminator (pix2pix) sees the input beside the output:
`PatchDiscriminator(width, in_channels=2)` on torch.cat([input, output], 1).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..core.device import map_batches, resolve_device
from ..data import images as im
from .models import MaxPool2


def _block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]


class UNet(nn.Module):
    """1 x 32 x 32 -> w x 32 -> 2w x 16 -> 4w x 8 -> (up, skip) 2w x 16 -> (up, skip) w x 32 -> 1 x 32 x 32."""

    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        self.enc1 = nn.Sequential(*_block(1, w), *_block(w, w))  # w x 32 x 32
        self.enc2 = nn.Sequential(MaxPool2(), *_block(w, 2 * w), *_block(2 * w, 2 * w))  # 2w x 16 x 16
        self.bottom = nn.Sequential(MaxPool2(), *_block(2 * w, 4 * w), *_block(4 * w, 4 * w))  # 4w x 8 x 8
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)  # 2w x 16 x 16
        self.dec2 = nn.Sequential(*_block(4 * w, 2 * w))  # after the skip from enc2
        self.up1 = nn.ConvTranspose2d(2 * w, w, 2, stride=2)  # w x 32 x 32
        self.dec1 = nn.Sequential(*_block(2 * w, w))  # after the skip from enc1
        self.out = nn.Conv2d(w, 1, 1)  # 1 x 32 x 32, tanh: images in [-1, 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        d2 = self.dec2(torch.cat([self.up2(self.bottom(e2)), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return torch.tanh(self.out(d1))


class PatchDiscriminator(nn.Module):
    """c x 32 x 32 -> w x 16 -> 2w x 8 -> 1 x 8 x 8 logits: one real/fake decision per 18 x 18 patch
    (receptive field of 4x4/2, 4x4/2, 3x3/1: 4 + 3 * 2 + 2 * 4 = 18 pixels; tested)."""

    def __init__(self, width: int = 32, in_channels: int = 1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True),  # w x 16 x 16
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * width, 1, 3, 1, 1))  # 1 x 8 x 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def apply_to_stored(G: nn.Module, stored: np.ndarray, batch_size: int = 500, device="auto") -> np.ndarray:
    """An image-to-image network applied to stored uint8 images (N, H, W); the result stored as
    uint8 images of the same size."""
    G.eval().to(resolve_device(device))
    out = map_batches(G, im.to_gan(stored), batch_size, device)
    return im.gan_to_stored(out, stored.shape[1:3])
