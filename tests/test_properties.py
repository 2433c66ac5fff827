"""Properties of the metrics and the exact ranker, on many generated cases (Hypothesis)."""
import numpy as np
import pytest
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
