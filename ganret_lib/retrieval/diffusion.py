"""Diffusion on the database's k-NN graph (Iscen et al. 2017), a label-free re-ranking for
chapter 6's comparison of query variants with classical query expansion.

Offline, once: the affinity of database items i, j is a_ij = max(0, cos(x_i, x_j))^gamma when
each is among the other's k nearest neighbours (the mutual graph; no self-loops), and
S = D^-1/2 A D^-1/2 with D the degrees. Per query: y holds max(0, cos(q, x_i))^gamma on the
query's k_query nearest database items and 0 elsewhere, and the ranking score is the solution f
of (I - alpha S) f = y, found by conjugate gradient (the matrix is symmetric positive definite
for alpha < 1), for a batch of queries at once. Items the diffusion never reaches score 0 and
tie below every reached item.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sparse

from .index import Index
from .vectors import as_features, l2_normalise


@dataclass(frozen=True)
class DiffusionConfig:
    k: int = 50  # neighbours of each database item in the graph
    k_query: int = 10  # database neighbours that start a query's diffusion
    alpha: float = 0.99  # weight of the graph against the query's own similarities
    gamma: float = 3.0  # similarities are raised to this power: strong links dominate
    max_iter: int = 20  # conjugate-gradient iterations
    tol: float = 1e-6  # stop when every column's residual norm falls below tol x its start


def knn_affinity(xb: np.ndarray, k: int, gamma: float) -> sparse.csr_matrix:
    """The mutual k-NN affinity matrix A of the database (cosine similarity, clipped, ^gamma)."""
    xb = l2_normalise(as_features(xb, "database (xb)"))
    if not 1 <= k < len(xb):
        raise ValueError(f"k must be between 1 and the database size - 1 ({len(xb) - 1}), got {k}")
    distances, ids = Index.build(xb, "cosine").search(xb, k + 1, progress=False)
    sims = np.maximum(1.0 - distances, 0.0) ** gamma
    rows = np.repeat(np.arange(len(xb)), k + 1)
    keep = ids.ravel() != rows  # no self-loops (an item is usually its own first neighbour)
    a = sparse.csr_matrix((sims.ravel()[keep], (rows[keep], ids.ravel()[keep])), shape=(len(xb),) * 2)
    return a.minimum(a.T).tocsr()  # mutual neighbours only


def normalised(a: sparse.csr_matrix) -> sparse.csr_matrix:
    """S = D^-1/2 A D^-1/2; isolated items (degree 0) keep a zero row."""
    degree = np.asarray(a.sum(axis=1)).ravel()
    inv_sqrt = np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1e-30)), 0.0)
    d = sparse.diags(inv_sqrt)
    return (d @ a @ d).tocsr()


def conjugate_gradient(matvec, b: np.ndarray, max_iter: int, tol: float) -> np.ndarray:
    """Solve M x = b for every column of b at once (M symmetric positive definite, given as
    `matvec`); each column has its own step sizes, as if solved alone."""
    x = np.zeros_like(b)
    r = b.copy()
    p = r.copy()
    rr = (r * r).sum(axis=0)
    stop = (tol * np.sqrt(rr)) ** 2
    for _ in range(max_iter):
        active = rr > stop
        if not active.any():
            break
        mp = matvec(p)
        step = np.where(active, rr / np.maximum((p * mp).sum(axis=0), 1e-30), 0.0)
        x += step * p
        r -= step * mp
        rr_new = (r * r).sum(axis=0)
        p = r + np.where(active, rr_new / np.maximum(rr, 1e-30), 0.0) * p
        rr = rr_new
    return x


class Diffusion:
    """`Diffusion(xb, config)` builds the graph once; `scores(xq)` diffuses a batch of queries."""

    def __init__(self, xb, config: DiffusionConfig = DiffusionConfig()):
        if not 0 < config.alpha < 1:
            raise ValueError(f"alpha must lie strictly between 0 and 1, got {config.alpha}")
        self.config = config
        self.xb = l2_normalise(as_features(xb, "database (xb)"))
        self.s = normalised(knn_affinity(self.xb, config.k, config.gamma))
        self.index = Index.build(self.xb, "cosine")

    def start(self, xq) -> np.ndarray:
        """y: (n_db, n_queries), each query's similarities^gamma to its k_query nearest items."""
        c = self.config
        distances, ids = self.index.search(as_features(xq, "queries (xq)"), c.k_query, progress=False)
        y = np.zeros((len(self.xb), len(ids)))
        y[ids, np.arange(len(ids))[:, None]] = np.maximum(1.0 - distances, 0.0) ** c.gamma
        return y

    def scores(self, xq) -> np.ndarray:
        """f: (n_queries, n_db), larger = closer (for `exact.evaluate_keys`, pass -f)."""
        c = self.config
        return conjugate_gradient(lambda v: v - c.alpha * (self.s @ v), self.start(xq), c.max_iter, c.tol).T
