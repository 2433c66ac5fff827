"""Retrieval descriptors from convolutional networks (chapter 4).

`layer_features` taps every activation of a conv stack (a DCGAN discriminator's `features`, an
encoder's, ...) and pools each layer's maps the way Radford et al. (2016) did for their
discriminator features: max-pooling to a 4 x 4 grid, flattened; or global average pooling.
`combine` L2-normalises each layer before concatenating, so that no layer dominates by scale.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .index import l2_normalise

POOLS = ("max", "avg")
ACTIVATIONS = (nn.ReLU, nn.LeakyReLU)


def _check_images(images) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or not images.is_floating_point():
        shape = getattr(images, "shape", None)
        raise ValueError(f"images must be a float tensor (N, C, H, W) in [-1, 1], got {type(images).__name__} "
                         f"of shape {shape}; convert uint8 images with ganret_lib.train.to_gan_images")
    return images


@torch.no_grad()
def layer_features(stack: nn.Sequential, images: torch.Tensor, pool: str = "max", grid: int = 4,
                   batch_size: int = 500, progress: bool = True) -> list[np.ndarray]:
    """One float32 array (N, channels * cells) per activation layer of `stack`.

    pool "max": each map max-pooled to grid x grid cells; "avg": each map averaged (one cell).
    The stack runs in eval mode (batch norm with its running statistics).
    """
    if pool not in POOLS:
        raise ValueError(f"unknown pooling {pool!r}; use one of {POOLS}")
    images = _check_images(images)
    taps = [i for i, layer in enumerate(stack) if isinstance(layer, ACTIVATIONS)]
    if not taps:
        raise ValueError("the stack has no ReLU/LeakyReLU layer to take features from")
    stack.eval()
    outputs = [[] for _ in taps]
    for lo in tqdm(range(0, len(images), batch_size), desc=f"{pool}-pooled features", disable=not progress, mininterval=2):
        h = images[lo:lo + batch_size]
        for i, layer in enumerate(stack[:taps[-1] + 1]):
            h = layer(h)
            if i in taps:
                pooled = F.adaptive_max_pool2d(h, grid) if pool == "max" else F.adaptive_avg_pool2d(h, 1)
                outputs[taps.index(i)].append(pooled.flatten(1).numpy())
    return [np.concatenate(o).astype(np.float32) for o in outputs]


def combine(layers: list[np.ndarray], which=None) -> np.ndarray:
    """Concatenate the chosen layers (0-based indices; default all), each L2-normalised first."""
    which = range(len(layers)) if which is None else which
    return np.hstack([l2_normalise(layers[i]) for i in which]).astype(np.float32)


@torch.no_grad()
def encode(encoder: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> np.ndarray:
    """The encoder's output code (N, out_dim) as float32."""
    images = _check_images(images)
    encoder.eval()
    return torch.cat([encoder(images[lo:lo + batch_size]) for lo in range(0, len(images), batch_size)]).numpy()
