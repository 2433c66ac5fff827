"""Exact ranking of the whole database for mAP@all (chapter 1).

Distances: "l2" is the squared Euclidean distance; "cosine" is 1 - cosine similarity
(vectors are L2-normalised first); "ip" is minus the inner product (for descriptors whose
scale carries meaning, chapter 5). Smaller is always better.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import torch
from tqdm import tqdm

from ..core.device import resolve_device
from . import metrics
from .vectors import METRICS, as_features, l2_normalise


def _check_pair(xq, xb, metric, dtype=np.float32):
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; use one of {METRICS}")
    xq, xb = as_features(xq, "queries (xq)", dtype), as_features(xb, "database (xb)", dtype)
    if xq.shape[1] != xb.shape[1]:
        raise ValueError(f"queries have {xq.shape[1]} dimensions but the database has {xb.shape[1]}")
    if metric == "cosine":
        xq, xb = l2_normalise(xq), l2_normalise(xb)
    return xq, xb


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


def operands_on(device: torch.device, xq: np.ndarray, xb: np.ndarray, metric: str) -> tuple[torch.Tensor, torch.Tensor]:
    """`key_operands` as tensors on `device` (the GPU paths of evaluation)."""
    return tuple(torch.from_numpy(x).to(device) for x in key_operands(xq, xb, metric))


def ranking_keys(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The (queries x database) ranking keys A @ B.T of `key_operands` (smaller = closer).

    `out` (at least len(a) rows) is reused across batches: fresh 60 MB buffers cost more in
    page faults than the product itself."""
    result = None if out is None else torch.from_numpy(out[:len(a)])
    return torch.mm(torch.from_numpy(a), torch.from_numpy(b).T, out=result).numpy()


def ranks_by_sorting(row: np.ndarray, start: int, stop: int, n_valid: int) -> np.ndarray:
    """1-based ranks of row[start:stop] (the relevant block) within the whole row, by sorting.

    Among equal distances, non-relevant items are ranked first. Only the first n_valid
    sorted relevant distances are real; later ones are excluded items (distance inf).
    The readable reference for `ranks_by_counting`, which gives the same ranks faster.
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


def ranks_by_counting(keys: np.ndarray, start: int, stop: int, n_valid: np.ndarray) -> np.ndarray:
    """`ranks_by_sorting` for every row of `keys` at once, without sorting the non-relevant items.

    Only the relevant block is sorted (a few thousand keys); each non-relevant key is then
    placed among the sorted relevant ones in constant expected time (`_count_ahead`), and a
    running sum gives, for each relevant item, the non-relevant items ahead of it. Same ranks,
    same tie rule; `benchmarks/bench_map.py` measures the gain over sorting (chapter 1).
    """
    relevant = np.sort(keys[:, start:stop], axis=1)
    n_valid = np.asarray(n_valid, dtype=np.int64)
    ahead = np.zeros(relevant.shape, dtype=np.int64)
    _count_ahead(keys, start, stop, relevant, n_valid, ahead)
    position = np.arange(1, relevant.shape[1] + 1)
    return np.where(position <= n_valid[:, None], position + ahead, np.inf)


def ranks_on_device(keys: torch.Tensor, start: int, stop: int, n_valid: np.ndarray) -> np.ndarray:
    """`ranks_by_sorting` for every row of `keys`, in torch on the keys' device (a GPU: chapters on
    Colab or a GPU machine). Sorting is what a GPU does well: the relevant block and the rest are
    sorted apart, and a binary search places each relevant key after every other key <= it (the
    tie rule). Excluded items (inf) sort last; NaN too, and is never ahead."""
    relevant = torch.sort(keys[:, start:stop], dim=1).values
    rest = torch.sort(torch.cat([keys[:, :start], keys[:, stop:]], dim=1), dim=1).values
    ahead = torch.searchsorted(rest, relevant, right=True).cpu().numpy()
    position = np.arange(1, relevant.shape[1] + 1)
    return np.where(position <= np.asarray(n_valid)[:, None], position + ahead, np.inf)


# Buckets per relevant item: enough that most buckets hold no relevant key (measured fastest at
# 60,000 x 6,000 on 2 cores: fewer buckets mean more comparisons, more buckets more cache misses).
BUCKETS_PER_RELEVANT = 16
_FLOAT32_MAX = float(np.finfo(np.float32).max)


@numba.njit(nogil=True, cache=True)
def _count_ahead(keys, start, stop, relevant, n_valid, ahead):  # pragma: no cover (compiled)
    """ahead[b, j] = number of keys of row b outside [start, stop) that are <= relevant[b, j].

    Buckets split [relevant[b, 0], relevant[b, m-1]] into equal widths. The bucket function is
    monotone (rounding and clamping included), so a key lies above every relevant key of a lower
    bucket and below every one of a higher bucket: only its own bucket's relevant keys need a
    comparison (a short scan, or a binary search in a crowded bucket, so ties cost log m, never m).
    Keys beyond the last relevant one, excluded items (inf) and NaN among them, are never ahead.
    Two passes per row: every key's bucket in a branch-free loop the compiler vectorises (float32,
    8 keys per instruction), then one table look-up per key, and a comparison only in the few
    buckets that hold a relevant key.
    """
    n = keys.shape[1]
    bucket = np.empty(n, dtype=np.int32)
    for b in range(keys.shape[0]):
        m = n_valid[b]
        if m == 0:
            continue
        r, row = relevant[b], keys[b]
        lo, hi = r[0], r[m - 1]
        n_buckets = m * BUCKETS_PER_RELEVANT
        # float64 for the width, capped so that the float32 scale stays finite (0 * scale = 0)
        scale = np.float32(min(n_buckets / (np.float64(hi) - np.float64(lo)), _FLOAT32_MAX)) if hi > lo \
            else np.float32(0.0)
        top = np.float32(n_buckets - 1)
        # first[k] = relevant keys in buckets < k; bucket n_buckets (past hi) holds none
        first = np.zeros(n_buckets + 2, dtype=np.int32)  # int32: half the cache footprint of int64
        for j in range(m):
            first[np.int32(min((r[j] - lo) * scale, top)) + 1] += 1
        for k in range(n_buckets + 1):
            first[k + 1] += first[k]
        for i in range(n):  # the same clamped function as above; keys past hi go to n_buckets
            v = row[i]
            x = min(max((v - lo) * scale, np.float32(0.0)), top)
            bucket[i] = np.int32(x) if v <= hi else n_buckets
        below = np.zeros(m + 1, dtype=np.int32)  # below[p]: keys with exactly p relevant keys below
        for i0, i1 in ((0, start), (stop, n)):  # the relevant block itself is skipped
            for i in range(i0, i1):
                k = bucket[i]
                p, q = first[k], first[k + 1]
                if p != q:  # a bucket with relevant keys: place the key among them
                    v = row[i]
                    while q - p > 8:  # crowded bucket: halve it (ties: the key goes ahead of equal ones)
                        mid = (p + q) // 2
                        if r[mid] < v:
                            p = mid + 1
                        else:
                            q = mid
                    while p < q and r[p] < v:
                        p += 1
                below[p] += 1
        running = 0
        for j in range(m):
            running += below[j]
            ahead[b, j] = running


def evaluate_exact(xq, yq, xb, yb, metric: str = "l2", query_ids=None, batch_size: int = 256,
                   threads: int = 2, progress: bool = True, dtype=np.float32, ranker: str | None = None,
                   device="auto", **metric_kw) -> dict[str, np.ndarray]:
    """Rank the whole database for every query and return per-query metrics (see metrics.py).

    Relevant = same label. `query_ids[q]` is the database index of query q when queries are
    drawn from the database (-1 otherwise); that item is removed from q's ranking by id.
    Ties go to the non-relevant item, whatever the database order. Keys are computed in `dtype`.
    In float32 (the default) the matrix product's rounding depends on the batch size and the
    thread count, so keys that are equal in exact arithmetic can come out unequal: an AP can
    move between batch sizes, by up to about 1e-3 on coarsely quantised features full of ties
    (tested), far less on continuous features. For results independent of both on exactly
    representable features (e.g. small integers), use `dtype=np.float64`.
    `ranker` "sorting" uses `ranks_by_sorting` (same ranks, slower; for the benchmark and exercises).
    On a GPU (`device` "auto" where CUDA is available, or "cuda") the keys are computed and ranked
    there (`ranker` "device", `ranks_on_device`); on the CPU the default is "counting" (the
    reference). "device" also runs on the CPU, for tests: same ranks as the other two.
    """
    xq, xb = _check_pair(xq, xb, metric, dtype)
    yq, yb = _check_labels(yq, yb, len(xq), len(xb))
    order = np.argsort(yb, kind="stable")  # group the database by label: relevant = one block
    device = resolve_device(device)
    ranker = ranker or ("counting" if device.type == "cpu" else "device")
    if ranker == "device":
        a_on, b_on = operands_on(device, xq, xb[order], metric)
        keys_of = lambda q: a_on[torch.from_numpy(q).to(device)] @ b_on.T  # noqa: E731
        threads = 1  # the device ranks a whole batch at once
    else:
        a, b = key_operands(xq, xb[order], metric)
        buffer = np.empty((min(batch_size, len(a)), len(b)), dtype=b.dtype)
        keys_of = lambda q: ranking_keys(a[q], b, out=buffer)  # noqa: E731
    return _rank_and_score(keys_of, yq, yb, order, query_ids, batch_size, threads, progress,
                           f"exact ranking ({metric})", ranker, **metric_kw)


def evaluate_keys(keys_of, yq, yb, query_ids=None, batch_size: int = 256, threads: int = 2,
                  progress: bool = True, **metric_kw) -> dict[str, np.ndarray]:
    """`evaluate_exact` for rankings that are not a distance between vectors (diffusion scores,
    chapter 6): `keys_of(q)`, for an array of query indices, returns their (len(q), n_db) ranking
    keys in the database's order, smaller = closer. Same tie rule, exclusion and metrics."""
    yq, yb = _check_labels(yq, yb, len(yq), len(yb))
    order = np.argsort(yb, kind="stable")
    return _rank_and_score(lambda q: np.ascontiguousarray(keys_of(q)[:, order]), yq, yb, order, query_ids,
                           batch_size, threads, progress, "ranking", "counting", **metric_kw)


def _check_labels(yq, yb, n_queries: int, n_db: int):
    yq, yb = np.asarray(yq), np.asarray(yb)
    if len(yq) != n_queries or len(yb) != n_db:
        raise ValueError(f"labels and features disagree: {n_queries} queries with {len(yq)} labels, "
                         f"{n_db} database items with {len(yb)} labels")
    return yq, yb


RANKERS = ("counting", "sorting", "device")


def _rank_rows(ranker: str, keys, start: int, stop: int, n_valid: np.ndarray) -> np.ndarray:
    if ranker == "counting":
        return ranks_by_counting(keys, start, stop, n_valid)
    if ranker == "device":
        return ranks_on_device(keys, start, stop, n_valid)
    return np.stack([ranks_by_sorting(row, start, stop, m) for row, m in zip(keys, n_valid)])


def _rank_and_score(keys_of, yq, yb, order, query_ids, batch_size, threads, progress, desc, ranker, **metric_kw):
    """The ranking loop: `keys_of(q)` gives keys with the database in label order (`order`)."""
    if ranker not in RANKERS:
        raise ValueError(f"unknown ranker {ranker!r}; use one of {RANKERS}")
    yb = yb[order]
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    exclude = np.full(len(yq), -1) if query_ids is None else np.asarray(query_ids)
    if exclude.shape != (len(yq),):
        raise ValueError(f"query_ids must have one entry per query ({len(yq)}), got shape {exclude.shape}")
    if exclude.size and (exclude.min() < -1 or exclude.max() >= len(yb)):
        raise ValueError(f"query_ids must be database positions (0 to {len(yb) - 1}) or -1 (the query "
                         f"is not in the database), got values from {exclude.min()} to {exclude.max()}")
    exclude = np.where(exclude >= 0, position[np.clip(exclude, 0, None)], -1)
    labels, starts = np.unique(yb, return_index=True)
    stops = np.append(starts[1:], len(yb))
    block = {lab: (s, e) for lab, s, e in zip(labels.tolist(), starts, stops)}

    batches, query_order = [], []
    bar = tqdm(total=len(yq), desc=desc, disable=not progress, mininterval=1)
    with ThreadPoolExecutor(threads) as pool:
        for label in np.unique(yq).tolist():
            start, stop = block.get(label, (0, 0))
            members = np.flatnonzero(yq == label)
            for lo in range(0, len(members), batch_size):
                q = members[lo:lo + batch_size]
                dist = keys_of(q)
                ex = exclude[q]
                rows = np.flatnonzero(ex >= 0)
                if isinstance(dist, torch.Tensor):  # keys on a device
                    dist[torch.from_numpy(rows).to(dist.device), torch.from_numpy(ex[rows]).to(dist.device)] = np.inf
                else:
                    dist[rows, ex[rows]] = np.inf
                excluded_relevant = (ex >= start) & (ex < stop)
                n_relevant = (stop - start) - excluded_relevant.astype(int)

                # one share of the batch per thread; pool.map returns before the loop moves on,
                # so the closure always sees this batch's values
                def rank_and_score(share):
                    rows = slice(share[0], share[-1] + 1)  # shares are contiguous: a view, not a copy
                    ranks = _rank_rows(ranker, dist[rows], start, stop, n_relevant[share])  # noqa: B023
                    return metrics.evaluate_ranks(ranks, n_relevant[share], **metric_kw)  # noqa: B023

                shares = [share for share in np.array_split(np.arange(len(q)), threads) if len(share)]
                batches += pool.map(rank_and_score, shares)
                query_order += [q[share] for share in shares]
                bar.update(len(q))
    bar.close()
    joined = metrics.concat_batches(batches)
    back = np.argsort(np.concatenate(query_order))  # restore the caller's query order
    return {name: values[back] for name, values in joined.items()}


def target_ranks(xq, xb, targets, metric: str = "l2", batch_size: int = 1024, dtype=np.float32,
                 device="auto", threads: int = 2) -> np.ndarray:
    """1-based rank of one target database item per query (instance-level retrieval, chapter 5).

    `targets[q]` is the database position of query q's one relevant item. Items exactly as close
    as the target are ranked ahead of it (the pessimistic rule), so duplicates never help.
    On the CPU the keys of each batch go into one reused buffer (`ranking_keys`) and a compiled
    loop counts them, a share of the rows per thread (`_count_at_most`): counting in torch took
    more time than the product itself (`benchmarks/bench_map.py`). On a GPU both run in torch.
    The product is the same call either way, so the ranks are too.
    """
    xq, xb = _check_pair(xq, xb, metric, dtype)
    targets = np.asarray(targets)
    if targets.shape != (len(xq),):
        raise ValueError(f"targets must have one entry per query ({len(xq)}), got shape {targets.shape}")
    if targets.size and (targets.min() < 0 or targets.max() >= len(xb)):
        raise ValueError(f"targets must be database positions (0 to {len(xb) - 1}), "
                         f"got values from {targets.min()} to {targets.max()}")
    device = resolve_device(device)
    if device.type != "cpu":
        return _target_ranks_on_device(device, xq, xb, targets, metric, batch_size)
    a, b = key_operands(xq, xb, metric)
    buffer = np.empty((min(batch_size, len(a)), len(b)), dtype=b.dtype)
    ranks = np.empty(len(xq), dtype=np.int64)
    with ThreadPoolExecutor(threads) as pool:
        for lo in range(0, len(a), batch_size):
            keys = ranking_keys(a[lo:lo + batch_size], b, out=buffer)
            own = keys[np.arange(len(keys)), targets[lo:lo + batch_size]]
            out = ranks[lo:lo + len(keys)]
            shares = [slice(s[0], s[-1] + 1) for s in np.array_split(np.arange(len(keys)), threads) if len(s)]
            list(pool.map(lambda s: _count_at_most(keys[s], own[s], out[s]), shares))  # noqa: B023
    return ranks


def _target_ranks_on_device(device, xq, xb, targets, metric, batch_size) -> np.ndarray:
    a, b = operands_on(device, xq, xb, metric)
    targets = torch.from_numpy(targets).to(device)
    ranks = np.empty(len(xq), dtype=np.int64)
    for lo in range(0, len(a), batch_size):
        keys = torch.mm(a[lo:lo + batch_size], b.T)
        own = keys.gather(1, targets[lo:lo + batch_size, None])
        ranks[lo:lo + batch_size] = (keys <= own).sum(1).cpu().numpy()  # the target itself, ties and closer
    return ranks


@numba.njit(nogil=True, cache=True)
def _count_at_most(keys, own, out):  # pragma: no cover (compiled)
    """out[b] = keys of row b that are <= own[b]: the target itself, ties and closer items (NaN never)."""
    for b in range(keys.shape[0]):
        v, row, count = own[b], keys[b], 0
        for i in range(row.shape[0]):
            count += row[i] <= v
        out[b] = count
