"""Nearest-neighbour search (chapter 1): an exact ranker for mAP@all and a thin faiss wrapper.

Distances: "l2" is the squared Euclidean distance; "cosine" is 1 - cosine similarity
(vectors are L2-normalised first); "ip" is minus the inner product (for descriptors whose
scale carries meaning, chapter 5). Smaller is always better.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from tqdm import tqdm

from . import metrics

METRICS = ("l2", "cosine", "ip")
KINDS = ("flat", "ivf", "hnsw", "pq")


def as_features(x, name: str, dtype=np.float32) -> np.ndarray:
    """Validate a feature matrix: 2-D, finite, non-empty; returned contiguous, float32 by default."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (items x dimensions), got shape {x.shape}; "
                         "flatten images first, e.g. with ganret_lib.features.raw_pixels")
    if len(x) == 0:
        raise ValueError(f"{name} is empty: it needs at least one vector")
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {x.dtype}")
    x = np.ascontiguousarray(x, dtype=dtype)
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf; check the feature extractor's output")
    return x


def _check_pair(xq, xb, metric, dtype=np.float32):
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; use one of {METRICS}")
    xq, xb = as_features(xq, "queries (xq)", dtype), as_features(xb, "database (xb)", dtype)
    if xq.shape[1] != xb.shape[1]:
        raise ValueError(f"queries have {xq.shape[1]} dimensions but the database has {xb.shape[1]}")
    if metric == "cosine":
        xq, xb = l2_normalise(xq), l2_normalise(xb)
    return xq, xb


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit Euclidean norm (zero rows stay zero)."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def key_operands(xq: np.ndarray, xb: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) such that A @ B.T orders each query's database like its distances do.

    l2: [q, 1] . [-2b, ||b||^2] = ||b||^2 - 2 q.b, the squared distance less ||q||^2 (a
    per-query constant), in one matrix product; cosine: -q.b on normalised vectors; ip: -q.b.
    Inputs are already validated (and normalised for cosine).
    """
    if metric in ("cosine", "ip"):
        return xq, -xb
    ones = np.ones((len(xq), 1), dtype=xq.dtype)
    return np.hstack([xq, ones]), np.hstack([-2 * xb, (xb * xb).sum(1, keepdims=True)])


def ranking_keys(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The (queries x database) ranking keys A @ B.T of `key_operands` (smaller = closer).

    `out` (at least len(a) rows) is reused across batches: fresh 60 MB buffers cost more in
    page faults than the product itself."""
    result = None if out is None else torch.from_numpy(out[:len(a)])
    return torch.mm(torch.from_numpy(a), torch.from_numpy(b).T, out=result).numpy()


def _ranks_of_relevant(row: np.ndarray, start: int, stop: int, n_valid: int) -> np.ndarray:
    """1-based ranks of row[start:stop] (the relevant block) within the whole row.

    Among equal distances, non-relevant items are ranked first. Only the first n_valid
    sorted relevant distances are real; later ones are excluded items (distance inf).
    """
    relevant = np.sort(row[start:stop])
    ranks = np.full(len(relevant), np.inf)
    if n_valid == 0:
        return ranks
    worst = relevant[n_valid - 1]
    ahead = np.zeros(n_valid, dtype=np.int64)
    for part in (row[:start], row[stop:]):
        part = np.sort(part[part <= worst])  # items past the last relevant one never matter
        ahead += np.searchsorted(part, relevant[:n_valid], side="right")
    ranks[:n_valid] = np.arange(1, n_valid + 1) + ahead
    return ranks


def evaluate_exact(xq, yq, xb, yb, metric: str = "l2", query_ids=None, batch_size: int = 256,
                   threads: int = 2, progress: bool = True, dtype=np.float32,
                   **metric_kw) -> dict[str, np.ndarray]:
    """Rank the whole database for every query and return per-query metrics (see metrics.py).

    Relevant = same label. `query_ids[q]` is the database index of query q when queries are
    drawn from the database (-1 otherwise); that item is removed from q's ranking by id.
    Exact and deterministic: ties go to the non-relevant item, whatever the database order.
    Keys are computed in `dtype` (float32; float64 makes ties all but impossible).
    """
    xq, xb = _check_pair(xq, xb, metric, dtype)
    yq, yb = np.asarray(yq), np.asarray(yb)
    if len(yq) != len(xq) or len(yb) != len(xb):
        raise ValueError(f"labels and features disagree: {len(xq)} queries with {len(yq)} labels, "
                         f"{len(xb)} database items with {len(yb)} labels")
    order = np.argsort(yb, kind="stable")  # group the database by label: relevant = one block
    xb, yb = xb[order], yb[order]
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    exclude = np.full(len(xq), -1) if query_ids is None else np.asarray(query_ids)
    if exclude.shape != (len(xq),):
        raise ValueError(f"query_ids must have one entry per query ({len(xq)}), got shape {exclude.shape}")
    exclude = np.where(exclude >= 0, position[np.clip(exclude, 0, None)], -1)
    xq, xb = key_operands(xq, xb, metric)
    labels, starts = np.unique(yb, return_index=True)
    stops = np.append(starts[1:], len(yb))
    block = {lab: (s, e) for lab, s, e in zip(labels.tolist(), starts, stops)}

    batches, query_order = [], []
    buffer = np.empty((min(batch_size, len(xq)), len(xb)), dtype=xb.dtype)
    bar = tqdm(total=len(xq), desc=f"exact ranking ({metric})", disable=not progress, mininterval=1)
    with ThreadPoolExecutor(threads) as pool:
        for label in np.unique(yq).tolist():
            start, stop = block.get(label, (0, 0))
            members = np.flatnonzero(yq == label)
            for lo in range(0, len(members), batch_size):
                q = members[lo:lo + batch_size]
                dist = ranking_keys(xq[q], xb, out=buffer)
                ex = exclude[q]
                rows = np.flatnonzero(ex >= 0)
                dist[rows, ex[rows]] = np.inf
                excluded_relevant = (ex >= start) & (ex < stop)
                n_relevant = (stop - start) - excluded_relevant.astype(int)

                def rank_and_score(share):  # one share of the batch per thread
                    ranks = np.stack([_ranks_of_relevant(dist[b], start, stop, n_relevant[b]) for b in share])
                    return metrics.evaluate_ranks(ranks, n_relevant[share], **metric_kw)

                shares = [share for share in np.array_split(np.arange(len(q)), threads) if len(share)]
                batches += pool.map(rank_and_score, shares)
                query_order += [q[share] for share in shares]
                bar.update(len(q))
    bar.close()
    joined = metrics.concat_batches(batches)
    back = np.argsort(np.concatenate(query_order))  # restore the caller's query order
    return {name: values[back] for name, values in joined.items()}


class Index:
    """A faiss index over database vectors `xb`, searched in batches.

    kind: "flat" (exact), "ivf" (inverted lists, `nlist` cells, `nprobe` visited),
    "hnsw" (graph with `hnsw_m` links, `ef_search` beam), "pq" (IVF + product quantisation,
    `pq_m` sub-vectors of 8 bits).
    """

    def __init__(self, xb, metric: str = "l2", kind: str = "flat", nlist: int | None = None,
                 nprobe: int = 8, hnsw_m: int = 32, ef_search: int = 64, pq_m: int = 8, seed: int = 0):
        import faiss

        if kind not in KINDS:
            raise ValueError(f"unknown index kind {kind!r}; use one of {KINDS}")
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; use one of {METRICS}")
        xb = as_features(xb, "database (xb)")
        self.metric, self.kind, self.d = metric, kind, xb.shape[1]
        if metric == "cosine":
            xb = l2_normalise(xb)
        faiss_metric = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
        # 4 sqrt(n) cells, but no more than faiss's k-means can train well (39 points per cell)
        nlist = nlist or max(1, min(int(4 * np.sqrt(len(xb))), len(xb) // 39))
        if kind == "flat":
            index = faiss.IndexFlat(self.d, faiss_metric)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(self.d, hnsw_m, faiss_metric)
            index.hnsw.efSearch = ef_search
        else:
            quantizer = faiss.IndexFlat(self.d, faiss_metric)
            if kind == "ivf":
                index = faiss.IndexIVFFlat(quantizer, self.d, nlist, faiss_metric)
            else:
                if self.d % pq_m:
                    raise ValueError(f"pq needs the dimension ({self.d}) to be a multiple of pq_m ({pq_m})")
                index = faiss.IndexIVFPQ(quantizer, self.d, nlist, pq_m, 8, faiss_metric)
            index.cp.seed = seed
            index.train(xb)
            index.nprobe = nprobe
        index.add(xb)
        self.index = index

    @property
    def ntotal(self) -> int:
        return self.index.ntotal

    def search(self, xq, k: int, exclude_ids=None, batch_size: int = 2048, progress: bool = True):
        """Top-k search: `D, I = index.search(xq, k)`, distances ascending.

        `exclude_ids[q]` (a database id, or -1) is removed from query q's results by id, for
        queries that are themselves in the database.
        """
        xq = as_features(xq, "queries (xq)")
        if xq.shape[1] != self.d:
            raise ValueError(f"queries have {xq.shape[1]} dimensions but the index has {self.d}")
        if self.metric == "cosine":
            xq = l2_normalise(xq)
        extra = 0 if exclude_ids is None else 1
        available = self.ntotal - extra
        if not 1 <= k <= available:
            raise ValueError(f"k={k} but only {available} database items can be returned "
                             f"(database size {self.ntotal}{', one excluded per query' if extra else ''}); "
                             "choose 1 <= k <= that number")
        D = np.empty((len(xq), k), dtype=np.float32)
        I = np.empty((len(xq), k), dtype=np.int64)
        for lo in tqdm(range(0, len(xq), batch_size), desc=f"faiss {self.kind} search",
                       disable=not progress, mininterval=1):
            d, i = self.index.search(xq[lo:lo + batch_size], k + extra)
            if extra:
                drop = i == np.asarray(exclude_ids)[lo:lo + batch_size, None]
                keep = np.argsort(drop, axis=1, kind="stable")[:, :k]  # matches move to the end
                d, i = np.take_along_axis(d, keep, 1), np.take_along_axis(i, keep, 1)
            D[lo:lo + batch_size], I[lo:lo + batch_size] = d[:, :k], i[:, :k]
        if self.metric == "cosine":
            D = 1.0 - D
        elif self.metric == "ip":
            D = -D
        return D, I


def _weighted_neighbour_sum(x: np.ndarray, xb: np.ndarray, k: int, alpha: float, progress: bool) -> np.ndarray:
    """Sum over each row's k nearest database vectors (cosine), weighted by similarity^alpha."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    xb = l2_normalise(as_features(xb, "database (xb)"))
    distances, ids = Index(xb, "cosine").search(x, k, progress=progress)
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


SEARCH_PARAMETER = {"ivf": "nprobe", "pq": "nprobe", "hnsw": "efSearch"}
DEFAULT_SWEEPS = {"flat": [None], "ivf": [1, 4, 16, 64], "hnsw": [16, 64, 256], "pq": [1, 4, 16, 64]}


def compare_indexes(xb, xq, metric: str = "cosine", k: int = 10, sweeps: dict | None = None,
                    pq_m: int = 16, seed: int = 0, repeats: int = 3) -> list[dict]:
    """Recall@k against exact search, queries per second and memory of each index (chapter 4).

    `sweeps` maps an index kind to the values of its search parameter (nprobe for ivf and pq,
    efSearch for hnsw); each kind is built once. Queries per second: the median of `repeats`
    timed searches. Memory is the size of the serialised index per database vector (it
    includes the shared coarse centroids, so it overstates the cost per vector of large indexes).
    """
    import faiss

    sweeps = DEFAULT_SWEEPS if sweeps is None else sweeps
    xb, xq = as_features(xb, "database (xb)"), as_features(xq, "queries (xq)")
    _, truth = Index(xb, metric).search(xq, k, progress=False)
    rows = []
    for kind, values in sweeps.items():
        started = time.perf_counter()
        built = Index(xb, metric, kind, pq_m=pq_m, seed=seed)
        build_s = time.perf_counter() - started
        nbytes = len(faiss.serialize_index(built.index))
        for value in values:
            if value is not None:
                target = built.index.hnsw if kind == "hnsw" else built.index
                setattr(target, SEARCH_PARAMETER[kind], value)
            times = []
            for _ in range(repeats):  # the median of a few runs: these machines are shared
                started = time.perf_counter()
                _, found = built.search(xq, k, progress=False)
                times.append(time.perf_counter() - started)
            search_s = float(np.median(times))
            recall = np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(found, truth)])
            rows.append({"kind": kind, "parameter": SEARCH_PARAMETER.get(kind), "value": value,
                         f"recall_at_{k}": float(recall), "qps": len(xq) / search_s,
                         "bytes_per_vector": nbytes / len(xb), "build_s": build_s})
    return rows
