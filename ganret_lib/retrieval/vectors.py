"""Feature matrices: validation with errors that say what to do, and L2 normalisation."""
from __future__ import annotations

import numpy as np

METRICS = ("l2", "cosine", "ip")


def as_features(x, name: str, dtype=np.float32) -> np.ndarray:
    """Validate a feature matrix: 2-D, finite, non-empty; returned contiguous, float32 by default."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (items x dimensions), got shape {x.shape}; "
                         "flatten images first, e.g. with ganret_lib.methods.descriptors.Pixels")
    if len(x) == 0:
        raise ValueError(f"{name} is empty: it needs at least one vector")
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {x.dtype}")
    x = np.ascontiguousarray(x, dtype=dtype)
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf; check the feature extractor's output")
    return x


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit Euclidean norm (zero rows stay zero)."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
