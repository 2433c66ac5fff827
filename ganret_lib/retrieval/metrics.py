"""Retrieval metrics as pure functions of the ranks of the relevant items (chapter 1).

Every metric here is computed from one array per query: the 1-based ranks at which the
relevant database items appear in the ranked list, sorted ascending, padded with +inf for
relevant items that were not retrieved (or for padding). With R relevant items in the
database and ranks r_1 < r_2 < ... < r_R:

* precision@k = |{i : r_i <= k}| / k
* recall@k    = |{i : r_i <= k}| / R
* AP (mAP@all when averaged) = (1/R) * sum_i i / r_i, the divisor being *all* relevant items
  in the database, so relevant items never retrieved count as zero precision.
* AP@k = (1/min(R, k)) * sum_{i : r_i <= k} i / r_i, so a perfect top-k scores 1.
* interpolated precision at recall level t = max_{i : i/R >= t} i / r_i.

A query with no relevant item (R = 0) has no AP: its entries are NaN, and `summarize`
reports how many such queries there were instead of silently dropping them.

Ties are resolved by the code that produces the ranks; the exact ranker in
`ganret_lib.retrieval.exact` ranks non-relevant items first among equal distances (a pessimistic,
order-independent rule).
"""
from __future__ import annotations

import numpy as np

RECALL_LEVELS = np.linspace(0.0, 1.0, 21)
# Stored with every curve: curves without it were computed before the fix of `items_needed`
# (a float ceiling that could skip to the next relevant item) and are marked on the results page.
PR_INTERPOLATION = "exact-levels"


def ranks_from_relevance(relevance: np.ndarray) -> np.ndarray:
    """Ranks (1-based, +inf padded, sorted) of the True entries of a ranked relevance matrix.

    `relevance[q, j]` says whether the item at position j of query q's list is relevant
    (e.g. `knn_labels == query_labels[:, None]` after a top-k search).
    """
    relevance = np.asarray(relevance, dtype=bool)
    if relevance.ndim != 2:
        raise ValueError(f"relevance must be 2-D (queries x ranked list), got shape {relevance.shape}")
    positions = np.arange(1, relevance.shape[1] + 1, dtype=np.float64)
    return np.sort(np.where(relevance, positions, np.inf), axis=1)


def _hits(ranks: np.ndarray, k: float) -> np.ndarray:
    """ranks <= k. Ranks increase along a row, so r_i >= i: only the first k entries can hit."""
    return ranks[:, :max(int(k), 0)] <= k


def precision_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """Fraction of the first k results that are relevant, per query."""
    return _hits(ranks, k).sum(axis=1) / k


def recall_at_k(ranks: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Fraction of all relevant database items found in the first k results (NaN if R = 0)."""
    n_relevant = np.asarray(n_relevant, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_relevant > 0, _hits(ranks, k).sum(axis=1) / n_relevant, np.nan)


def average_precision(ranks: np.ndarray, n_relevant: np.ndarray, k: int | None = None) -> np.ndarray:
    """AP per query; k=None gives AP over the whole ranking (divisor R), else AP@k (divisor min(R, k))."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return _average_precision(ranks, _precision(ranks), n_relevant, k)


def _precision(ranks: np.ndarray) -> np.ndarray:
    """i / r_i: the precision at each relevant item (0 where the rank is inf, never retrieved)."""
    return np.arange(1, ranks.shape[1] + 1, dtype=np.float64) / ranks


def _average_precision(ranks, precision, n_relevant, k):
    n_relevant = np.asarray(n_relevant, dtype=np.float64)
    if k is not None:
        precision = np.where(ranks <= k, precision, 0.0)
    total = precision.sum(axis=1)
    divisor = n_relevant if k is None else np.minimum(n_relevant, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_relevant > 0, total / divisor, np.nan)


def interpolated_precision(ranks: np.ndarray, n_relevant: np.ndarray,
                           recall_levels: np.ndarray = RECALL_LEVELS) -> np.ndarray:
    """Interpolated precision at each recall level, per query: shape (queries, levels)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return _interpolated_precision(_precision(ranks), np.asarray(n_relevant), recall_levels)


def _interpolated_precision(precision, n_relevant, recall_levels):
    """max_{i >= needed(t)} precision_i for each level t: the maximum of each stretch between two
    needed items (`np.maximum.reduceat`), then a running maximum from the right over those few
    stretches. Rows with the same R share their stretches (a batch has one or two values of R)."""
    has_relevant = n_relevant > 0
    out = np.full((len(precision), len(recall_levels)), np.nan)
    if precision.shape[1] == 0:
        return out
    for count in np.unique(n_relevant[has_relevant]):
        rows = np.flatnonzero(n_relevant == count)
        needed = items_needed(recall_levels, count) - 1  # 0-based, ascending with the level
        starts, which = np.unique(needed, return_inverse=True)
        stretch = np.maximum.reduceat(precision[rows], starts, axis=1)
        best_after = np.maximum.accumulate(stretch[:, ::-1], axis=1)[:, ::-1]
        out[rows] = best_after[:, which]
    return out


def items_needed(recall_levels: np.ndarray, n_relevant) -> np.ndarray:
    """The smallest i with i / R >= t, for each level t (at least 1, at most R); R may be an
    array (a column of them gives one row of levels per query).

    The levels are meant as exact fractions (0.05, 0.30, ...) but are floats: 0.3 * 10 is
    3.0000000000000004, whose ceiling would ask for a 4th item. A product within 1e-9 of an
    integer is that integer.
    """
    needed = np.ceil(np.asarray(recall_levels, dtype=np.float64) * n_relevant - 1e-9)
    return np.clip(needed.astype(int), 1, n_relevant).astype(int)


def evaluate_ranks(ranks: np.ndarray, n_relevant: np.ndarray, precision_ks=(10, 100),
                   ap_ks=(1000,)) -> dict[str, np.ndarray]:
    """All per-query metrics of the book's protocol from one batch of ranks."""
    ranks, n_relevant = np.asarray(ranks, dtype=np.float64), np.asarray(n_relevant)
    precision = _precision(ranks)  # shared by AP, AP@k and the curve
    out = {"n_relevant": n_relevant, "ap_all": _average_precision(ranks, precision, n_relevant, None)}
    for k in ap_ks:
        out[f"ap_{k}"] = _average_precision(ranks, precision, n_relevant, k)
    for k in precision_ks:
        out[f"p_at_{k}"] = precision_at_k(ranks, k)
        out[f"r_at_{k}"] = recall_at_k(ranks, n_relevant, k)
    out["pr_curve"] = _interpolated_precision(precision, n_relevant, RECALL_LEVELS)
    return out


def instance_metrics(ranks: np.ndarray, ks=(1, 10)) -> dict[str, np.ndarray]:
    """Per-query instance-level metrics from the 1-based rank of each query's one relevant item:
    hit@k (1 when it is among the first k) and the reciprocal rank 1 / rank. Their means over
    queries are recall@k and the mean reciprocal rank (MRR)."""
    ranks = np.asarray(ranks)
    if ranks.ndim != 1 or (ranks < 1).any():
        raise ValueError("ranks must be a 1-D array of 1-based ranks (each at least 1)")
    out = {f"recall_at_{k}": (ranks <= k).astype(np.float64) for k in ks}
    return out | {"rr": 1.0 / ranks}


def concat_batches(batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Join the per-query dicts of several batches."""
    return {name: np.concatenate([b[name] for b in batches]) for name in batches[0]}


def summarize(per_query: dict[str, np.ndarray]) -> dict:
    """Means over the queries that have at least one relevant item, and how many had none.

    AP-type metrics are renamed to their mean (ap_all -> map_all, ap_1000 -> map_1000); the
    precision-recall curve becomes {"recall": [...], "precision": [...]}.
    """
    valid = per_query["n_relevant"] > 0
    out = {"n_queries": int(valid.size), "n_queries_without_relevant": int((~valid).sum())}
    for name, values in per_query.items():
        if name in ("n_relevant", "pr_curve"):
            continue
        out["m" + name if name.startswith("ap_") else name] = float(np.mean(values[valid]))
    if "pr_curve" in per_query:
        out["pr_curve"] = {"recall": RECALL_LEVELS.round(4).tolist(),
                           "precision": np.mean(per_query["pr_curve"][valid], axis=0).round(6).tolist(),
                           "interpolation": PR_INTERPOLATION}
    return out


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n_resamples: int = 10_000, confidence: float = 0.95,
                     seed: int = 0) -> dict:
    """Mean of a - b over queries with a percentile bootstrap interval, resampling queries.

    `a` and `b` are one metric per query (e.g. AP) of two methods on the same queries, in the
    same order: resampling the pairs keeps what the methods share (hard queries are hard for
    both), which makes the interval far narrower than two separate intervals would. Queries
    where either value is NaN (no relevant item) are left out. A difference is supported when
    the interval excludes 0.
    """
    from scipy import stats

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values must be two 1-D arrays of the same length, got {a.shape} and {b.shape}")
    diff = (a - b)[~(np.isnan(a) | np.isnan(b))]
    if diff.size < 2:
        raise ValueError(f"a bootstrap needs at least 2 queries with values, got {diff.size}")
    result = stats.bootstrap((diff,), np.mean, n_resamples=n_resamples, confidence_level=confidence,
                             method="percentile", vectorized=True, batch=500,
                             random_state=np.random.default_rng(seed))
    low, high = result.confidence_interval
    return {"diff": float(diff.mean()), "low": float(low), "high": float(high), "confidence": confidence,
            "n_queries": int(diff.size), "n_resamples": n_resamples}


def paired_bootstrap_ratio(a: np.ndarray, b: np.ndarray, n_resamples: int = 10_000, confidence: float = 0.95,
                           seed: int = 0) -> dict:
    """mean(a) / mean(b) over the same queries (e.g. one method's AP over a ceiling's) with a
    percentile bootstrap interval that resamples the queries, pairs kept together."""
    from scipy import stats

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values must be two 1-D arrays of the same length, got {a.shape} and {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    if a.size < 2 or b.mean() <= 0:
        raise ValueError("a ratio needs at least 2 queries with values and a positive mean denominator")
    result = stats.bootstrap((a, b), lambda x, y, axis=-1: x.mean(axis) / y.mean(axis), paired=True,
                             n_resamples=n_resamples, confidence_level=confidence, method="percentile",
                             vectorized=True, batch=500, random_state=np.random.default_rng(seed))
    low, high = result.confidence_interval
    return {"ratio": float(a.mean() / b.mean()), "low": float(low), "high": float(high),
            "confidence": confidence, "n_queries": int(a.size), "n_resamples": n_resamples}


TIE_RULES = ("expected", "pessimistic", "optimistic")


def tie_counts(distances: np.ndarray, relevant: np.ndarray, n_values: int) -> tuple[np.ndarray, np.ndarray]:
    """Per query, how many database items lie at each integer distance 0..n_values-1 (Hamming
    distances of binary codes, chapter 8), and how many of them are relevant: two (queries x
    n_values) arrays, the input of `tied_average_precision`."""
    distances, relevant = np.asarray(distances), np.asarray(relevant, dtype=bool)
    if distances.shape != relevant.shape or distances.ndim != 2:
        raise ValueError(f"distances and relevance must be two 2-D arrays of one shape, got "
                         f"{distances.shape} and {relevant.shape}")
    if distances.size and (distances.min() < 0 or distances.max() >= n_values):
        raise ValueError(f"distances must be integers from 0 to {n_values - 1}, got {distances.min()} "
                         f"to {distances.max()}")
    cell = distances.astype(np.int64) + n_values * np.arange(len(distances))[:, None]
    size = len(distances) * n_values
    counts = np.bincount(cell.ravel(), minlength=size).reshape(-1, n_values)
    hits = np.bincount(cell.ravel(), weights=relevant.ravel(), minlength=size).reshape(-1, n_values)
    return counts, hits.astype(np.int64)


def tied_average_precision(counts: np.ndarray, hits: np.ndarray, rule: str = "expected",
                           k: int | None = None) -> np.ndarray:
    """AP per query when the ranking only orders groups of tied items (chapter 8).

    `counts[q, t]` items share the t-th distance, nearest group first, and `hits[q, t]` of them
    are relevant. "expected" is the mean AP over all orders within ties (McSherry & Najork 2008;
    He et al. 2018), in closed form: a relevant item of a group of n items, r relevant, after N
    items and R relevant ones, at position p of its group, has expected precision
    (R + 1 + (p - 1)(r - 1)/(n - 1)) / (N + p), and the sum over p is a difference of harmonic
    numbers. "pessimistic" puts a group's relevant items after its others (the exact ranker's
    rule), "optimistic" before them. The divisor is every relevant item; NaN when there is none.
    With `k`, AP@k as `average_precision` defines it: only the first k positions count (a group
    that straddles position k counts the part of it that lies within), divisor min(R, k).
    """
    if rule not in TIE_RULES:
        raise ValueError(f"unknown tie rule {rule!r}; use one of {TIE_RULES}")
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    n, r = np.asarray(counts, dtype=np.float64), np.asarray(hits, dtype=np.float64)
    if n.shape != r.shape or (r > n).any() or (r < 0).any():
        raise ValueError("hits must be a same-shaped array of counts between 0 and the group sizes")
    before = np.cumsum(n, axis=1) - n  # N: items in nearer groups
    relevant_before = np.cumsum(r, axis=1) - r  # R
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, int(n.sum(axis=1).max()) + 1))])
    cutoff = np.inf if k is None else k

    def h(x):
        return harmonic[x.astype(np.int64)]

    if rule == "expected":
        # sum over p = 1..m of s + (R + 1 - s (N + 1)) / (N + p), with s the slope and m the
        # group's positions within the cutoff (all n without one)
        slope = np.where(n > 1, (r - 1) / np.maximum(n - 1, 1), 0.0)
        m = np.clip(cutoff - before, 0, n)
        group = (r / np.maximum(n, 1)) * ((relevant_before + 1 - slope * (before + 1)) * (h(before + m) - h(before))
                                          + slope * m)
    else:  # sum over j = 1..r' of (R + j) / (M + j), M the items ranked ahead of the first relevant one
        ahead = before + (n - r) if rule == "pessimistic" else before
        within = np.clip(cutoff - ahead, 0, r)  # r' relevant items within the cutoff
        group = within + (relevant_before - ahead) * (h(ahead + within) - h(ahead))
    total, n_relevant = np.where(r > 0, group, 0.0).sum(axis=1), r.sum(axis=1)
    divisor = n_relevant if k is None else np.minimum(n_relevant, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_relevant > 0, total / divisor, np.nan)


def tied_precision_at_k(counts: np.ndarray, hits: np.ndarray, k: int) -> np.ndarray:
    """Expected precision at k per query when the ranking only orders groups of tied items
    (`tie_counts`): a group that fills `m` of the first k positions contributes m * r / n of its
    r relevant items among n, the expectation over the orders within the group."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    n, r = np.asarray(counts, dtype=np.float64), np.asarray(hits, dtype=np.float64)
    before = np.cumsum(n, axis=1) - n
    inside = np.clip(k - before, 0, n)  # positions of each group within the first k
    return (r * inside / np.maximum(n, 1)).sum(axis=1) / k
