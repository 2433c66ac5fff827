"""Properties of the metrics and the exact ranker, on many generated cases (Hypothesis)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ganret_lib.retrieval import exact, metrics

# a ranked list of relevance flags, with some relevant items never retrieved (n_missing)
lists = st.tuples(st.lists(st.booleans(), min_size=1, max_size=40), st.integers(0, 5))


def ranks_and_r(flags, n_missing):
    ranks = metrics.ranks_from_relevance(np.array([flags]))
    return ranks, np.array([sum(flags) + n_missing])


@given(lists)
def test_ap_is_in_0_1_and_is_1_exactly_when_the_relevant_items_come_first(case):
    flags, n_missing = case
    ranks, r = ranks_and_r(flags, n_missing)
    if r[0] == 0:
        assert np.isnan(metrics.average_precision(ranks, r)[0])
        return
    ap = metrics.average_precision(ranks, r)[0]
    assert 0 <= ap <= 1
    first = n_missing == 0 and not any(flags[sum(flags):])  # all relevant, at the top
    assert (ap == 1.0) == first


@given(lists, st.randoms(use_true_random=False))
def test_ap_ignores_the_order_after_the_last_relevant_item(case, rng):
    flags, n_missing = case
    if not any(flags):
        return
    last = max(i for i, f in enumerate(flags) if f)
    tail = flags[last + 1:] + [False] * 3
    rng.shuffle(tail)
    a, r = ranks_and_r(flags, n_missing)
    b, _ = ranks_and_r(flags[:last + 1] + tail, n_missing)
    # the same terms, summed over lists of other lengths: equal up to rounding
    assert metrics.average_precision(a, r)[0] == pytest.approx(metrics.average_precision(b, r)[0], rel=1e-12)


@given(lists, st.integers(1, 50))
def test_ap_at_k_is_at_most_1_and_precision_counts_hits(case, k):
    flags, n_missing = case
    ranks, r = ranks_and_r(flags, n_missing)
    if r[0]:
        assert metrics.average_precision(ranks, r, k)[0] <= 1 + 1e-12
    assert metrics.precision_at_k(ranks, k)[0] == sum(flags[:k]) / k


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_exact_ranking_does_not_depend_on_the_database_order(seed):
    rng = np.random.default_rng(seed)
    xb = rng.integers(-2, 3, size=(60, 2)).astype(np.float32)  # small integers: exact ties
    yb = rng.integers(0, 3, 60)
    xq, yq = rng.integers(-2, 3, size=(5, 2)).astype(np.float32), rng.integers(0, 3, 5)
    order = rng.permutation(60)
    a = exact.evaluate_exact(xq, yq, xb, yb, progress=False)["ap_all"]
    b = exact.evaluate_exact(xq, yq, xb[order], yb[order], progress=False)["ap_all"]
    np.testing.assert_array_equal(a, b)


# keys drawn from few values (ties everywhere), from a wide range, or with one outlier (a crowded bucket)
key_rows = st.tuples(st.integers(1, 60), st.integers(0, 2**32 - 1), st.sampled_from(["ties", "wide", "outlier"]),
                     st.sampled_from([np.float32, np.float64]))


@given(key_rows, st.integers(0, 60), st.integers(0, 60), st.booleans())
@settings(max_examples=300, deadline=None)
def test_counting_ranks_equal_sorting_ranks(case, a, b, exclude):
    n, seed, kind, dtype = case
    rng = np.random.default_rng(seed)
    keys = {"ties": rng.integers(0, 4, (3, n)), "wide": np.exp(rng.normal(0, 8, (3, n))),
            "outlier": np.append(rng.normal(size=(3, n - 1)), np.full((3, 1), 1e6), axis=1)}[kind].astype(dtype)
    start, stop = sorted((a % (n + 1), b % (n + 1)))
    n_valid = np.full(3, stop - start)
    if exclude:  # the query's own item: inf in row 0 (relevant) and row 1 (wherever it falls)
        if stop > start:
            keys[0, start], n_valid[0] = np.inf, stop - start - 1
        keys[1, seed % n] = np.inf
        n_valid[1] -= start <= seed % n < stop
    by_sorting = np.stack([exact.ranks_by_sorting(row, start, stop, m) for row, m in zip(keys, n_valid)])
    np.testing.assert_array_equal(exact.ranks_by_counting(keys, start, stop, n_valid), by_sorting)
    # the GPU's ranker, run here on the CPU: the same ranks
    np.testing.assert_array_equal(exact.ranks_on_device(torch.from_numpy(keys), start, stop, n_valid), by_sorting)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from(["l2", "cosine", "ip"]))
def test_the_device_path_gives_the_counting_paths_metrics(seed, metric):
    """evaluate_exact's GPU path (keys computed and ranked in torch), run on the CPU: every metric
    equal to the reference path's, queries excluded from their own ranking included."""
    rng = np.random.default_rng(seed)
    xb = rng.integers(-2, 3, size=(80, 3)).astype(np.float64)  # small integers: exact ties, exact keys
    yb = rng.integers(0, 4, 80)
    ids = rng.choice(80, 6, replace=False)
    xq, yq = np.vstack([xb[ids], rng.normal(size=(4, 3))]), np.append(yb[ids], rng.integers(0, 4, 4))
    query_ids = np.append(ids, [-1] * 4)
    kw = dict(metric=metric, query_ids=query_ids, batch_size=3, progress=False, dtype=np.float64, device="cpu")
    reference = exact.evaluate_exact(xq, yq, xb, yb, **kw)
    on_device = exact.evaluate_exact(xq, yq, xb, yb, ranker="device", **kw)
    assert reference.keys() == on_device.keys()
    for name in reference:
        np.testing.assert_array_equal(on_device[name], reference[name], err_msg=name)
