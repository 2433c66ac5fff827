"""Binary codes for retrieval (chapter 8): hashers that turn float descriptors into bits, Hamming
distances by popcount, and their evaluation with tie-aware AP.

Every hasher learns from training descriptors (`fit`) and maps descriptors to (N, bits) booleans
(`codes`); `pack` makes each code one uint64 word (codes of up to 64 bits) so that a Hamming
distance is one XOR and one popcount.
- LSH: signs of random projections of the centred data (Charikar 2002).
- PCAH: signs of the top `bits` principal components (needs bits <= the input's dimension).
- SH: spectral hashing (Weiss, Torralba & Fergus 2008): PCA, then per bit the sign of one of the
  lowest-frequency eigenfunctions sin(pi/2 + k pi (x - a) / (b - a)) of a uniform distribution on
  [a, b] along a principal direction, the `bits` smallest frequencies k / (b - a) over all
  directions and k >= 1.
- ITQ: PCA to `bits` dimensions, then the orthogonal rotation R that minimises the quantisation
  error ||B - V R||^2, alternating B = sign(V R) and the orthogonal Procrustes solution
  (Gong & Lazebnik 2011).
"""
from __future__ import annotations

import numpy as np

from ..retrieval import metrics

HASHERS = ("LSH", "PCAH", "SH", "ITQ")


def _check(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"descriptors must have shape (N, d), got {x.shape}")
    return x


class Hasher:
    """Base class: `fit(x)` learns on training descriptors, `codes(x)` gives (N, bits) booleans."""

    name = "hasher"

    def __init__(self, bits: int, seed: int = 0):
        if not 1 <= bits <= 64:
            raise ValueError(f"bits must be from 1 to 64 (one uint64 word per code), got {bits}")
        self.bits, self.seed = bits, seed

    def fit(self, x: np.ndarray) -> Hasher:
        x = _check(x)
        self.mean = x.mean(axis=0)
        self._fit(x - self.mean)
        return self

    def codes(self, x: np.ndarray) -> np.ndarray:
        return self._project(_check(x) - self.mean) > 0

    def _principal(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The top-k principal directions (d, k) of centred x and their variances."""
        if k > min(x.shape):
            raise ValueError(f"{self.name} with {k} principal directions needs descriptors with at least "
                             f"{k} dimensions and items, got {x.shape}")
        _, s, vt = np.linalg.svd(x, full_matrices=False)
        return vt[:k].T, s[:k] ** 2 / (len(x) - 1)


class LSH(Hasher):
    name = "LSH"

    def _fit(self, x):
        self.w = np.random.default_rng(self.seed).standard_normal((x.shape[1], self.bits))

    def _project(self, x):
        return x @ self.w


class PCAH(Hasher):
    name = "PCAH"

    def _fit(self, x):
        self.w, _ = self._principal(x, self.bits)

    def _project(self, x):
        return x @ self.w


class SH(Hasher):
    name = "SH"

    def _fit(self, x):
        self.w, _ = self._principal(x, min(self.bits, *x.shape))
        v = x @ self.w
        self.low, span = v.min(axis=0), v.max(axis=0) - v.min(axis=0) + 1e-12
        # candidate (direction, k) modes; the smallest frequencies k / span come first
        modes = [(k / span[i], i, k) for i in range(v.shape[1]) for k in range(1, self.bits + 1)]
        chosen = sorted(modes)[:self.bits]
        self.direction = np.array([i for _, i, _ in chosen])
        self.omega = np.array([k * np.pi / span[i] for _, i, k in chosen])

    def _project(self, x):
        v = x @ self.w
        return np.sin(np.pi / 2 + (v[:, self.direction] - self.low[self.direction]) * self.omega)


class ITQ(Hasher):
    name = "ITQ"

    def __init__(self, bits: int, seed: int = 0, iterations: int = 50):
        super().__init__(bits, seed)
        self.iterations = iterations

    def _fit(self, x):
        self.w, _ = self._principal(x, self.bits)
        v = x @ self.w
        gaussian = np.random.default_rng(self.seed).standard_normal((self.bits, self.bits))
        self.rotation = np.linalg.qr(gaussian)[0]  # a random orthogonal start
        self.errors = []
        for _ in range(self.iterations):
            b = np.where(v @ self.rotation > 0, 1.0, -1.0)
            self.errors.append(float(np.sum((b - v @ self.rotation) ** 2)))
            u, _, wt = np.linalg.svd(v.T @ b)  # Procrustes: R maximising tr(R^T V^T B)
            self.rotation = u @ wt

    def _project(self, x):
        return x @ self.w @ self.rotation


def hasher(name: str, bits: int, seed: int = 0) -> Hasher:
    kinds = {"LSH": LSH, "PCAH": PCAH, "SH": SH, "ITQ": ITQ}
    if name not in kinds:
        raise ValueError(f"unknown hasher {name!r}; use one of {HASHERS}")
    return kinds[name](bits, seed)


def pack(codes: np.ndarray) -> np.ndarray:
    """(N, bits) booleans -> (N,) uint64 words, bit i of a code in bit i of its word."""
    codes = np.asarray(codes, dtype=bool)
    if codes.ndim != 2 or codes.shape[1] > 64:
        raise ValueError(f"codes must have shape (N, bits <= 64), got {codes.shape}")
    weights = np.uint64(1) << np.arange(codes.shape[1], dtype=np.uint64)
    return (codes.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)


def hamming(q: np.ndarray, db: np.ndarray) -> np.ndarray:
    """Hamming distances (len(q), len(db)) between packed codes, by XOR and popcount."""
    return np.bitwise_count(q[:, None] ^ db[None, :])


def evaluate_codes(q_codes: np.ndarray, yq, db_codes: np.ndarray, yb, batch_size: int = 256) -> dict:
    """Per-query tie-aware metrics of Hamming ranking (class-level relevance): AP under the
    expected, pessimistic and optimistic tie rules (`metrics.tied_average_precision`), the
    expected AP@1000 (`ap_1000`, divisor min(R, 1000), for comparison with the hashing
    literature) and the expected precision at 10 and 100."""
    bits = q_codes.shape[1]
    q, db = pack(q_codes), pack(db_codes)
    yq, yb = np.asarray(yq), np.asarray(yb)
    out = {f"ap_{rule}": [] for rule in metrics.TIE_RULES} | {"ap_1000": [], "p_at_10": [], "p_at_100": []}
    for lo in range(0, len(q), batch_size):
        counts, hits = metrics.tie_counts(hamming(q[lo:lo + batch_size], db),
                                          yq[lo:lo + batch_size, None] == yb[None, :], bits + 1)
        for rule in metrics.TIE_RULES:
            out[f"ap_{rule}"].append(metrics.tied_average_precision(counts, hits, rule))
        out["ap_1000"].append(metrics.tied_average_precision(counts, hits, "expected", k=1000))
        for k in (10, 100):
            out[f"p_at_{k}"].append(metrics.tied_precision_at_k(counts, hits, k))
    return {k: np.concatenate(v) for k, v in out.items()}
