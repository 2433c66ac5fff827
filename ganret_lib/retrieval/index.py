"""A faiss index with explicit train / add / search / save / load (chapters 1 and 4, the command).

Distances as in `exact`: "l2" squared Euclidean, "cosine" 1 - cosine similarity (vectors
normalised on the way in), "ip" minus the inner product; smaller is always better. The index
keeps the caller's ids (`add(x, ids)`), and a saved index remembers which descriptor filled it,
so that it is never searched with vectors of another kind.
"""
from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..core.runs import atomic_write_bytes
from .vectors import METRICS, as_features, l2_normalise

KINDS = ("flat", "ivf", "hnsw", "pq")
FORMAT = "ganret-index-1"


class IndexFileError(ValueError):
    """A file that is not a saved index, or an index built for another descriptor."""


def default_nlist(n: int) -> int:
    """4 sqrt(n) cells, but no more than faiss's k-means can train well (39 points per cell)."""
    return max(1, min(int(4 * np.sqrt(n)), n // 39))


class Index:
    """An empty faiss index of dimension `d`: `train` it (ivf, pq), `add` vectors, `search`.

    kind: "flat" (exact), "ivf" (inverted lists, `nlist` cells, `nprobe` visited),
    "hnsw" (graph with `hnsw_m` links, `ef_search` beam), "pq" (IVF + product quantisation,
    `pq_m` sub-vectors of 8 bits). `nlist=None` picks `default_nlist` of the training set.
    """

    def __init__(self, d: int, metric: str = "l2", kind: str = "flat", nlist: int | None = None,
                 nprobe: int = 8, hnsw_m: int = 32, ef_search: int = 64, pq_m: int = 8, seed: int = 0):
        if kind not in KINDS:
            raise ValueError(f"unknown index kind {kind!r}; use one of {KINDS}")
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; use one of {METRICS}")
        if kind == "pq" and d % pq_m:
            raise ValueError(f"pq needs the dimension ({d}) to be a multiple of pq_m ({pq_m})")
        self.d, self.metric, self.kind = d, metric, kind
        self.params = {"nlist": nlist, "nprobe": nprobe, "hnsw_m": hnsw_m, "ef_search": ef_search,
                       "pq_m": pq_m, "seed": seed}
        self.index = None if kind in ("ivf", "pq") else self._make(nlist)
        self.ids = np.empty(0, dtype=np.int64)
        self.descriptor: str | None = None  # the identity of the descriptor that filled it
        self.extra: dict = {}  # what a caller keeps with the index (the command: paths, model)

    @classmethod
    def build(cls, xb, metric: str = "l2", kind: str = "flat", ids=None, **params) -> Index:
        """An index of `kind` trained (if it needs it) and filled with `xb`."""
        xb = as_features(xb, "database (xb)")
        return cls(xb.shape[1], metric, kind, **params).train(xb).add(xb, ids)

    def _make(self, nlist: int | None):
        import faiss

        p = self.params
        faiss_metric = faiss.METRIC_L2 if self.metric == "l2" else faiss.METRIC_INNER_PRODUCT
        if self.kind == "flat":
            return faiss.IndexFlat(self.d, faiss_metric)
        if self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(self.d, p["hnsw_m"], faiss_metric)
            index.hnsw.efSearch = p["ef_search"]
            return index
        quantizer = faiss.IndexFlat(self.d, faiss_metric)
        if self.kind == "ivf":
            index = faiss.IndexIVFFlat(quantizer, self.d, nlist, faiss_metric)
        else:
            index = faiss.IndexIVFPQ(quantizer, self.d, nlist, p["pq_m"], 8, faiss_metric)
        index.cp.seed = p["seed"]
        index.nprobe = p["nprobe"]
        return index

    def _prepare(self, x, name: str) -> np.ndarray:
        x = as_features(x, name)
        if x.shape[1] != self.d:
            raise ValueError(f"{name} have {x.shape[1]} dimensions but the index has {self.d}")
        return l2_normalise(x) if self.metric == "cosine" else x

    @property
    def is_trained(self) -> bool:
        return self.index is not None and self.index.is_trained

    @property
    def ntotal(self) -> int:
        return 0 if self.index is None else self.index.ntotal

    def train(self, xt) -> Index:
        """Learn the coarse cells (ivf, pq) and codebooks (pq) from `xt`; flat and hnsw need none."""
        if self.kind in ("ivf", "pq"):
            xt = self._prepare(xt, "training vectors")
            self.index = self._make(self.params["nlist"] or default_nlist(len(xt)))
            self.index.train(xt)
        return self

    def add(self, xb, ids=None) -> Index:
        """Add vectors with their ids (default: 0, 1, ... continuing the ids already added)."""
        if not self.is_trained:
            raise RuntimeError(f"a {self.kind} index must be trained before vectors are added: "
                               "call index.train(x) with a sample of the database first")
        xb = self._prepare(xb, "database vectors")
        ids = np.arange(len(self.ids), len(self.ids) + len(xb)) if ids is None else np.asarray(ids, np.int64)
        if ids.shape != (len(xb),):
            raise ValueError(f"ids must have one entry per vector ({len(xb)}), got shape {ids.shape}")
        self.index.add(xb)
        self.ids = np.concatenate([self.ids, ids])
        return self

    def search(self, xq, k: int, exclude_ids=None, batch_size: int = 2048, progress: bool = True):
        """Top-k search: `D, I = index.search(xq, k)`, distances ascending, I in the added ids.

        `exclude_ids[q]` (an id, or -1) is removed from query q's results by id, for queries
        that are themselves in the database.
        """
        xq = self._prepare(xq, "queries")
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
            i = np.where(i >= 0, self.ids[np.clip(i, 0, None)], -1)  # faiss positions -> ids
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

    # -- files ----------------------------------------------------------------------------------
    def save(self, path, descriptor: str | None = None) -> Path:
        """One file (written atomically): the faiss index, the ids, what built it and `extra`
        (JSON)."""
        import faiss

        descriptor = descriptor or self.descriptor
        meta = {"format": FORMAT, "d": self.d, "metric": self.metric, "kind": self.kind,
                "params": self.params, "descriptor": descriptor, "ntotal": self.ntotal,
                "saved": time.strftime("%Y-%m-%d %H:%M:%S"), "extra": self.extra}
        buffer = io.BytesIO()
        np.savez(buffer, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), ids=self.ids,
                 faiss=faiss.serialize_index(self.index) if self.index is not None else np.empty(0, np.uint8))
        atomic_write_bytes(Path(path), buffer.getvalue())
        return Path(path)

    @classmethod
    def load(cls, path, descriptor: str | None = None) -> Index:
        """Read an index saved by `save`; with `descriptor`, check that it is the one that filled it."""
        import faiss

        path = Path(path)
        if not path.is_file():
            raise IndexFileError(f"no index file at {path}; build one first")
        try:
            with np.load(path, allow_pickle=False) as stored:
                meta = json.loads(stored["meta"].tobytes())
                ids, blob = stored["ids"], stored["faiss"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise IndexFileError(f"{path} is not a saved ganret index ({type(exc).__name__}: {exc}); "
                                 "build it again with Index.build(...).save(path)") from exc
        if meta.get("format") != FORMAT:
            raise IndexFileError(f"{path} has format {meta.get('format')!r}, not {FORMAT!r}; build it again")
        if descriptor is not None and meta["descriptor"] != descriptor:
            raise IndexFileError(f"{path} was built with descriptor {meta['descriptor']!r}, not {descriptor!r}: "
                                 "its vectors are not comparable with these queries; rebuild the index")
        index = cls(meta["d"], meta["metric"], meta["kind"], **meta["params"])
        try:
            index.index = faiss.deserialize_index(blob) if blob.size else None
        except RuntimeError as exc:
            raise IndexFileError(f"{path} holds a damaged faiss index ({exc}); build it again") from exc
        index.ids, index.descriptor, index.extra = ids, meta["descriptor"], meta.get("extra", {})
        index.saved = meta["saved"]
        return index


def _timed(search, repeats: int, *args, **kwargs):
    """(median seconds of `repeats` calls of `search(*args, **kwargs)`, its last result): the
    median of a few runs, because these machines are shared."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = search(*args, **kwargs)
        times.append(time.perf_counter() - started)
    return float(np.median(times)), result


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
    _, truth = Index.build(xb, metric).search(xq, k, progress=False)
    rows = []
    for kind, values in sweeps.items():
        started = time.perf_counter()
        built = Index.build(xb, metric, kind, pq_m=pq_m, seed=seed)
        build_s = time.perf_counter() - started
        nbytes = len(faiss.serialize_index(built.index))
        for value in values:
            if value is not None:
                target = built.index.hnsw if kind == "hnsw" else built.index
                setattr(target, SEARCH_PARAMETER[kind], value)
            search_s, (_, found) = _timed(built.search, repeats, xq, k, progress=False)
            recall = np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(found, truth)])
            rows.append({"kind": kind, "parameter": SEARCH_PARAMETER.get(kind), "value": value,
                         f"recall_at_{k}": float(recall), "qps": len(xq) / search_s,
                         "bytes_per_vector": nbytes / len(xb), "build_s": build_s})
    return rows


BINARY_SEARCH_PARAMETER = {"hnsw": "efSearch", "multihash": "nflip"}
DEFAULT_BINARY_SWEEPS = {"flat": [None], "hnsw": [16, 64, 256], "multihash": [0, 1, 2]}


def _binary_index(kind: str, bits: int, hnsw_m: int):
    """A faiss binary index: exhaustive ("flat"), a graph ("hnsw") or multi-index hashing
    ("multihash": the code cut into substrings of up to 16 bits, one hash table each, Norouzi et
    al. 2012; `nflip` bits of each substring flipped at search time)."""
    import faiss

    if kind == "flat":
        return faiss.IndexBinaryFlat(bits)
    if kind == "hnsw":
        return faiss.IndexBinaryHNSW(bits, hnsw_m)
    if kind == "multihash":
        substring = min(16, bits)
        return faiss.IndexBinaryMultiHash(bits, bits // substring, substring)
    raise ValueError(f"unknown binary index kind {kind!r}; use one of {tuple(DEFAULT_BINARY_SWEEPS)}")


def compare_binary_indexes(db_codes, q_codes, k: int = 10, sweeps: dict | None = None, hnsw_m: int = 16,
                           repeats: int = 3) -> list[dict]:
    """Recall@k against the exhaustive Hamming scan, queries per second and memory of faiss's
    binary indexes (chapter 8), on (N, bits) boolean codes, bits a multiple of 8.

    Hamming distances tie, so "the" k nearest items are not unique: recall@k here is the share
    of the k returned items whose distance is at most the exhaustive scan's k-th distance (every
    valid answer counts; the scan itself scores 1). `sweeps` maps a kind ("flat", "hnsw",
    "multihash") to the values of its search parameter (efSearch, nflip). Queries per second:
    the median of `repeats` timed searches; memory: the serialised index per database item.
    """
    import faiss

    db_codes, q_codes = np.asarray(db_codes, dtype=bool), np.asarray(q_codes, dtype=bool)
    if db_codes.ndim != 2 or q_codes.ndim != 2 or db_codes.shape[1] != q_codes.shape[1]:
        raise ValueError(f"codes must be two 2-D arrays of one code length, got {db_codes.shape} and "
                         f"{q_codes.shape}")
    bits = db_codes.shape[1]
    if bits % 8:
        raise ValueError(f"faiss's binary indexes need a code length that is a multiple of 8, got {bits}")
    if not 1 <= k <= len(db_codes):
        raise ValueError(f"k must be between 1 and the database size ({len(db_codes)}), got {k}")
    xb, xq = np.packbits(db_codes, axis=1), np.packbits(q_codes, axis=1)
    exhaustive = _binary_index("flat", bits, hnsw_m)
    exhaustive.add(xb)
    kth = exhaustive.search(xq, k)[0][:, -1:]
    rows = []
    for kind, values in (DEFAULT_BINARY_SWEEPS if sweeps is None else sweeps).items():
        built = _binary_index(kind, bits, hnsw_m)
        started = time.perf_counter()
        built.add(xb)
        build_s = time.perf_counter() - started
        nbytes = len(faiss.serialize_index_binary(built))
        for value in values:
            if value is not None:
                target = built.hnsw if kind == "hnsw" else built
                setattr(target, BINARY_SEARCH_PARAMETER[kind], value)
            search_s, (distances, found) = _timed(built.search, repeats, xq, k)
            valid = (found >= 0) & (distances <= kth)  # -1: fewer than k items found
            rows.append({"kind": kind, "parameter": BINARY_SEARCH_PARAMETER.get(kind), "value": value,
                         "bits": bits, f"recall_at_{k}": float(valid.mean()),
                         "qps": len(xq) / search_s, "bytes_per_item": nbytes / len(xb),
                         "build_s": build_s})
    return rows
