"""Realistic query degradations with three severity levels (chapter 5, AFA-SVR).

Every degradation maps unit images (float, [0, 1], (N, C, H, W); see `images`) to the same, drawing any
randomness from a torch.Generator, so that training (degradations drawn on the fly) and
evaluation (`degrade_stored`, seeded per call) are reproducible. Severity 1 is mild, 2 medium,
3 strong; the parameters of each level are in `LEVELS`.

The training of the cleaner sees only `SEEN`; `HELD_OUT` measures whether it generalises.
"""
from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F

from . import images

LEVELS = {
    "noise": (0.1, 0.2, 0.35),  # std of additive Gaussian noise (image range 0..1), then clipped
    "blur": (0.8, 1.3, 2.0),  # std in pixels of a Gaussian blur
    "occlusion": (8, 12, 16),  # side in pixels of a grey square at a random place
    "lowres": (2, 3, 4),  # down-sampling factor (area), then bilinear up-sampling
    "contrast": (0.5, 0.3, 0.15),  # remaining contrast around the image mean, plus a brightness shift
    "jpeg": (40, 15, 5),  # JPEG quality (lower is worse)
}
SEEN = ("noise", "blur", "occlusion")  # used to train the cleaner
HELD_OUT = ("lowres", "contrast", "jpeg")  # never seen in training
KINDS = SEEN + HELD_OUT


def _check(x: torch.Tensor, kind: str, severity: int) -> None:
    if kind not in LEVELS:
        raise ValueError(f"unknown degradation {kind!r}; use one of {KINDS}")
    if severity not in (1, 2, 3):
        raise ValueError(f"severity must be 1 (mild), 2 (medium) or 3 (strong), got {severity}")
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"expected unit images (float (N, C, H, W) in [0, 1]), got {x.dtype} {tuple(x.shape)}; "
                         "convert stored uint8 images with ganret_lib.data.images.to_unit")


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Each channel blurred by a Gaussian of std `sigma` pixels (separable, edges replicated)."""
    radius = int(np.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    kernel = torch.exp(-t ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    n, c, h, w = x.shape
    padded = F.pad(x.reshape(n * c, 1, h, w), (radius,) * 4, mode="replicate")  # channels apart
    out = F.conv2d(padded, kernel.view(1, 1, 1, -1))  # separable: rows, then columns
    return F.conv2d(out, kernel.view(1, 1, -1, 1)).reshape(n, c, h, w)


def _occlude(x: torch.Tensor, side: int, g: torch.Generator) -> torch.Tensor:
    n, _, h, w = x.shape
    top = torch.randint(0, h - side + 1, (n,), generator=g)
    left = torch.randint(0, w - side + 1, (n,), generator=g)
    rows, cols = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    inside = ((rows >= top.view(n, 1, 1)) & (rows < (top + side).view(n, 1, 1))
              & (cols >= left.view(n, 1, 1)) & (cols < (left + side).view(n, 1, 1)))
    return torch.where(inside.unsqueeze(1), torch.full_like(x, 0.5), x)


def _lowres(x: torch.Tensor, factor: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    small = F.interpolate(x, size=(max(1, round(h / factor)), max(1, round(w / factor))), mode="area")
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)


def _contrast(x: torch.Tensor, keep: float, g: torch.Generator) -> torch.Tensor:
    mean = x.mean((1, 2, 3), keepdim=True)
    shift = (torch.rand(len(x), 1, 1, 1, generator=g) - 0.5) * (1 - keep) * 0.6
    return mean + keep * (x - mean) + shift


def _jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    from PIL import Image

    out = []
    for img in images.unit_to_stored(x):
        buffer = io.BytesIO()
        Image.fromarray(img).save(buffer, format="JPEG", quality=quality)
        out.append(np.asarray(Image.open(buffer)))
    return images.to_unit(np.stack(out)).to(x.dtype)


def _noise(x: torch.Tensor, std: float, g: torch.Generator) -> torch.Tensor:
    return x + std * torch.randn(x.shape, generator=g, dtype=x.dtype)


# kind -> f(images, level, generator); the level of each severity is in LEVELS
APPLY = {
    "noise": _noise,
    "blur": lambda x, sigma, _: gaussian_blur(x, sigma),
    "occlusion": _occlude,
    "lowres": lambda x, factor, _: _lowres(x, factor),
    "contrast": _contrast,
    "jpeg": lambda x, quality, _: _jpeg(x, quality),
}


def degrade(x: torch.Tensor, kind: str, severity: int, generator: torch.Generator) -> torch.Tensor:
    """Degraded copy of unit images (N, C, H, W); the result is clipped to [0, 1]."""
    _check(x, kind, severity)
    return APPLY[kind](x, LEVELS[kind][severity - 1], generator).clamp(0, 1)


def degrade_stored(stored: np.ndarray, kind: str, severity: int, seed: int = 0) -> np.ndarray:
    """Degrade stored uint8 images and store the result as uint8, as a camera or a file would."""
    x = images.to_unit(stored)
    g = torch.Generator().manual_seed(seed * 7919 + KINDS.index(kind) * 31 + severity) if kind in LEVELS else None
    return images.unit_to_stored(degrade(x, kind, severity, g))


def random_seen_degradation(x: torch.Tensor, generator: torch.Generator, kinds=SEEN) -> torch.Tensor:
    """Each image of the batch degraded by a random kind of `kinds` at a random severity (training)."""
    kind_of = torch.randint(0, len(kinds), (len(x),), generator=generator)
    severity_of = torch.randint(1, 4, (len(x),), generator=generator)
    out = x.clone()
    for k, kind in enumerate(kinds):
        for severity in (1, 2, 3):
            chosen = (kind_of == k) & (severity_of == severity)
            if chosen.any():
                out[chosen] = degrade(x[chosen], kind, severity, generator)
    return out
