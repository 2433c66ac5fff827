"""Sketches of garments: chapter 7's query domain, drawn from Fashion-MNIST photos.

A sketch is an edge map of the photo (bright strokes on black, as the photos are stored) with
the perturbations that make a drawing unlike the edge map of its photo: strokes of another
width, an elastic warp, a small shift and missing pieces of stroke. `edges` is the
deterministic part (an edge operator), `perturb` the random part (torch, from a Generator, so
that training draws new sketches every step and evaluation repeats them with `sketch_stored`).

Two styles: `SEEN` (Sobel edges; the translators train on it) and `HELD_OUT` (Canny edges,
thicker and more broken strokes, a stronger warp), never seen in training, which measures
whether a translator generalises to another way of drawing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import images

OPERATORS = ("sobel", "canny")


@dataclass(frozen=True)
class SketchStyle:
    operator: str  # "sobel" (gradient magnitude, thresholded) or "canny" (scikit-image)
    threshold: float  # sobel: share of the image's largest gradient that makes an edge; canny: its sigma
    widths: tuple = (1, 2)  # sides of the max filter that thickens strokes, one drawn per image (1: as detected)
    dropout: float = 0.15  # share of the image where strokes are erased (blobs of a smooth random mask)
    warp: float = 1.0  # elastic warp: typical displacement in pixels (a smooth random field)
    shift: int = 1  # largest translation in pixels, each way


SEEN = SketchStyle("sobel", threshold=0.5, widths=(1, 2), dropout=0.15, warp=0.7, shift=1)
HELD_OUT = SketchStyle("canny", threshold=1.0, widths=(2,), dropout=0.3, warp=1.0, shift=2)
STYLES = {"seen": SEEN, "held out": HELD_OUT}

SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 4


def sobel_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Gradient magnitude of unit images (N, 1, H, W) by the 3 x 3 Sobel kernels (edges replicated)."""
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(padded, SOBEL_X.view(1, 1, 3, 3).to(x))
    gy = F.conv2d(padded, SOBEL_X.T.reshape(1, 1, 3, 3).to(x))
    return torch.sqrt(gx ** 2 + gy ** 2)


def edges(stored: np.ndarray, style: SketchStyle) -> torch.Tensor:
    """The style's binary edge map of stored uint8 images (N, H, W): unit float (N, 1, H, W)."""
    if style.operator not in OPERATORS:
        raise ValueError(f"unknown edge operator {style.operator!r}; use one of {OPERATORS}")
    x = images.to_unit(stored)
    if x.shape[1] != 1:
        raise ValueError(f"sketches are drawn from grey images (N, H, W), got {tuple(stored.shape)}")
    if style.operator == "sobel":
        g = sobel_magnitude(x)
        peak = g.amax((2, 3), keepdim=True).clamp_min(1e-6)  # a blank image has no edges
        return (g > style.threshold * peak).float()
    from skimage.feature import canny

    maps = [canny(image, sigma=style.threshold) for image in x[:, 0].numpy()]
    return torch.from_numpy(np.stack(maps)).unsqueeze(1).float()


def _smooth_noise(shape: tuple, cells: int, g: torch.Generator) -> torch.Tensor:
    """A smooth random field (N, C, H, W): standard normal values on a `cells` x `cells` grid of
    control points, interpolated bicubically (the elastic distortions of Simard et al. 2003)."""
    n, c, h, w = shape
    coarse = torch.randn((n, c, cells, cells), generator=g)
    return F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)


def perturb(edge_maps: torch.Tensor, style: SketchStyle, g: torch.Generator) -> torch.Tensor:
    """Drawn strokes from edge maps (unit (N, 1, H, W)): each image gets its own stroke width,
    warp, shift and erased pieces, all drawn from `g`. Returns unit images in [0, 1]."""
    n, _, h, w = edge_maps.shape
    side = torch.tensor(style.widths)[torch.randint(len(style.widths), (n,), generator=g)]
    strokes = edge_maps.clone()
    for k in side.unique().tolist():  # thicker strokes: a k x k max filter (k - 1 pixels wider)
        chosen = side == k
        if k > 1:
            before, after = (k - 1) // 2, k // 2
            padded = F.pad(edge_maps[chosen], (before, after, before, after))
            strokes[chosen] = F.max_pool2d(padded, k, stride=1)
    # the warp: a smooth displacement field plus one translation per image, in pixels
    flow = style.warp * _smooth_noise((n, 2, h, w), 4, g)
    flow = flow + torch.randint(-style.shift, style.shift + 1, (n, 2, 1, 1), generator=g).float()
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    grid = torch.stack([(xs + flow[:, 0]) / (w - 1), (ys + flow[:, 1]) / (h - 1)], -1) * 2 - 1
    drawn = F.grid_sample(strokes, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    # erased pieces: where a smooth random mask falls below its `dropout` quantile
    mask = _smooth_noise((n, 1, h, w), 7, g)
    cut = torch.quantile(mask.flatten(1), style.dropout, dim=1).view(n, 1, 1, 1) if style.dropout > 0 else None
    return drawn if cut is None else drawn * (mask > cut)


def sketch_stored(stored: np.ndarray, style: SketchStyle, seed: int = 0, batch_size: int = 2000) -> np.ndarray:
    """Sketches of stored uint8 images, stored as uint8 (N, H, W); the same seed draws the same
    sketches (batch b of the images uses the generator seeded by (seed, b))."""
    stored = images.check_stored(stored, "photos")
    out = []
    for b, start in enumerate(range(0, len(stored), batch_size)):
        g = torch.Generator().manual_seed(seed * 1_000_003 + b)
        out.append(images.unit_to_stored(perturb(edges(stored[start:start + batch_size], style), style, g)))
    return np.concatenate(out) if out else np.zeros_like(stored)


def edge_maps_stored(stored: np.ndarray, style: SketchStyle = SEEN) -> np.ndarray:
    """The style's edge maps of stored uint8 images, unperturbed, stored as uint8 (N, H, W): what
    the handcrafted baseline compares a sketch with."""
    return images.unit_to_stored(edges(images.check_stored(stored, "photos"), style))
