"""Image descriptors (chapter 1: raw pixels and PCA) and a cache keyed by their inputs."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Callable

import numpy as np

from .runs import atomic_write_bytes, project_root


def raw_pixels(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, H, W[, C]) -> float32 vectors (N, H*W*C) in [0, 1]."""
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, C), got {images.shape}")
    if images.dtype != np.uint8:
        raise ValueError(f"raw_pixels expects uint8 images (0-255), got {images.dtype}; "
                         "convert with (x * 255).round().astype(np.uint8) if they are floats in [0, 1]")
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def pca(fit_on: np.ndarray, transform: list[np.ndarray], dim: int, whiten: bool = False,
        seed: int = 0) -> list[np.ndarray]:
    """Fit PCA on `fit_on` (the database) and project each array of `transform`."""
    from sklearn.decomposition import PCA

    if not 1 <= dim <= min(fit_on.shape):
        raise ValueError(f"PCA dimension {dim} must be between 1 and {min(fit_on.shape)}")
    model = PCA(n_components=dim, whiten=whiten, random_state=seed).fit(fit_on)
    return [model.transform(x).astype(np.float32) for x in transform]


def cache_key(name: str, params: dict, inputs: dict[str, np.ndarray]) -> str:
    """SHA-256 over the name, the JSON of the parameters and every input array's bytes."""
    h = hashlib.sha256(name.encode())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    for key in sorted(inputs):
        arr = np.ascontiguousarray(inputs[key])
        h.update(f"{key}{arr.dtype}{arr.shape}".encode())
        h.update(arr.data)
    return h.hexdigest()[:20]


def cached(name: str, params: dict, inputs: dict[str, np.ndarray], compute: Callable[[], dict],
           folder=None) -> dict[str, np.ndarray]:
    """Return `compute()` (a dict of arrays), from data/cache/ when these inputs were seen before."""
    folder = project_root() / "data" / "cache" if folder is None else folder
    path = folder / f"{name}-{cache_key(name, params, inputs)}.npz"
    if path.is_file():
        try:
            with np.load(path) as stored:
                return {k: stored[k] for k in stored.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            path.unlink()  # a damaged cache entry is recomputed, not trusted
    result = compute()
    buffer = io.BytesIO()
    np.savez(buffer, **result)
    atomic_write_bytes(path, buffer.getvalue())
    return result
