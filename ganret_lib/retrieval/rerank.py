"""Label-free re-ranking (chapter 4): alpha-query expansion and database-side augmentation."""
from __future__ import annotations

import numpy as np

from .index import Index
from .vectors import as_features, l2_normalise


def _weighted_neighbour_sum(x: np.ndarray, xb: np.ndarray, k: int, alpha: float, progress: bool) -> np.ndarray:
    """Sum over each row's k nearest database vectors (cosine), weighted by similarity^alpha."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    xb = l2_normalise(as_features(xb, "database (xb)"))
    distances, ids = Index.build(xb, "cosine").search(x, k, progress=progress)
    weights = np.maximum(1.0 - distances, 0.0) ** alpha
    return np.einsum("nk,nkd->nd", weights, xb[ids])


def query_expansion(xq, xb, k: int = 10, alpha: float = 3.0, progress: bool = False) -> np.ndarray:
    """alpha-weighted query expansion (Radenović et al. 2018), label-free re-ranking (chapter 4).

    Each query becomes the normalised sum of itself and its top-k database neighbours, each
    weighted by (cosine similarity)^alpha; search again with the result (cosine metric).
    """
    xq = l2_normalise(as_features(xq, "queries (xq)"))
    return l2_normalise(xq + _weighted_neighbour_sum(xq, xb, k, alpha, progress))


def database_augmentation(xb, k: int = 10, alpha: float = 3.0, progress: bool = False) -> np.ndarray:
    """Database-side augmentation: each database vector replaced by the weighted sum of its k
    nearest database vectors, itself included (weight 1); label-free, computed once offline."""
    return l2_normalise(_weighted_neighbour_sum(as_features(xb, "database (xb)"), xb, k + 1, alpha, progress))
