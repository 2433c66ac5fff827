"""The one image convention of the library (every chapter).

Three forms of the same picture, and nothing else converts between them:
- **stored**: uint8 arrays (N, H, W) or (N, H, W, C), 0-255, as data sets and files hold them;
- **unit**: float32 tensors (N, C, H, W) in [0, 1], what degradations act on;
- **gan**: float32 tensors (N, C, S, S) in [-1, 1], what the networks see (tanh range), padded
  with background (-1) to a side S that is a power of two (28 -> 32).
Sizes and channel counts come from the arrays, never from constants.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def check_stored(images, name: str = "images") -> np.ndarray:
    """uint8 (N, H, W) or (N, H, W, C), else a ValueError that says how to convert."""
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"{name} must have shape (N, H, W) or (N, H, W, C), got {images.shape}")
    if images.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 (0-255), got {images.dtype}; convert floats in [0, 1] "
                         "with (x * 255).round().astype(np.uint8)")
    return images


def to_unit(images) -> torch.Tensor:
    """stored uint8 (N, H, W[, C]) -> unit float (N, C, H, W) in [0, 1]."""
    images = check_stored(images)
    x = torch.from_numpy(np.asarray(images, dtype=np.float32) / 255.0)
    return x.unsqueeze(1) if images.ndim == 3 else x.permute(0, 3, 1, 2).contiguous()


def gan_size(side: int) -> int:
    """The power of two that a side of `side` pixels is padded to (28 -> 32, 32 -> 32)."""
    return 1 << (max(side, 4) - 1).bit_length()


def unit_to_gan(x: torch.Tensor, size: int | None = None) -> torch.Tensor:
    """unit [0, 1] (N, C, H, W) -> gan [-1, 1] (N, C, S, S), padded with background to `size`
    (default: the next power of two)."""
    h, w = x.shape[-2:]
    size = gan_size(max(h, w)) if size is None else size
    pad_h, pad_w = size - h, size - w
    if min(pad_h, pad_w) < 0 or pad_h % 2 or pad_w % 2:
        raise ValueError(f"cannot pad {h}x{w} images evenly to {size}x{size}")
    return F.pad(x * 2 - 1, (pad_w // 2, pad_w // 2, pad_h // 2, pad_h // 2), value=-1.0)


def to_gan(images, size: int | None = None) -> torch.Tensor:
    """stored uint8 -> gan [-1, 1] (N, C, S, S): what every network of the book takes."""
    return unit_to_gan(to_unit(images), size)


def gan_to_unit(x: torch.Tensor, shape: tuple[int, int] | None = None) -> torch.Tensor:
    """gan [-1, 1] (N, C, S, S) -> unit [0, 1], the padding cropped back to `shape` (H, W)."""
    x = (x + 1) / 2
    if shape is not None:
        top, left = (x.shape[-2] - shape[0]) // 2, (x.shape[-1] - shape[1]) // 2
        x = x[..., top:top + shape[0], left:left + shape[1]]
    return x


def unit_to_stored(x: torch.Tensor) -> np.ndarray:
    """unit [0, 1] (N, C, H, W) -> stored uint8 (N, H, W) (one channel) or (N, H, W, C)."""
    out = (x.detach().cpu() * 255).round().clamp(0, 255).to(torch.uint8)
    return out[:, 0].numpy() if out.shape[1] == 1 else out.permute(0, 2, 3, 1).numpy()


def gan_to_stored(x: torch.Tensor, shape: tuple[int, int]) -> np.ndarray:
    """gan [-1, 1] (N, C, S, S) -> stored uint8 of side `shape`, as a camera or a file would keep it."""
    return unit_to_stored(gan_to_unit(x, shape))


def for_display(x: torch.Tensor, shape: tuple[int, int] | None = None) -> np.ndarray:
    """gan images as float arrays in [0, 1] for `viz.image_grid` ((N, H, W) for one channel)."""
    out = gan_to_unit(x.detach().cpu(), shape).float()
    return out[:, 0].numpy() if out.shape[1] == 1 else out.permute(0, 2, 3, 1).numpy()
