"""Tie-aware AP (metrics.tied_average_precision) against brute force over every order of the ties."""
import itertools

import numpy as np
import pytest

from ganret_lib.retrieval import metrics


def ap_of_order(relevant_in_order, k=None):
    """Plain AP (or AP@k) of one order, by `metrics.average_precision`'s definition."""
    ranks = np.flatnonzero(relevant_in_order) + 1.0
    return metrics.average_precision(ranks[None], np.array([len(ranks)]), k)[0]


def brute_force(distances, relevant, k=None):
    """Mean AP over every order that keeps the distances sorted (all permutations within ties)."""
    groups = [relevant[distances == d] for d in np.unique(distances)]
    orders = itertools.product(*[set(itertools.permutations(g)) for g in groups])
    return np.mean([ap_of_order(np.concatenate(o), k) for o in orders])


def one(distances, relevant, n_values, rule="expected", k=None):
    counts, hits = metrics.tie_counts(np.array([distances]), np.array([relevant]), n_values)
    return metrics.tied_average_precision(counts, hits, rule, k)[0]


@pytest.mark.parametrize("seed", range(12))
def test_expected_ap_equals_the_mean_over_every_order_of_the_ties(seed):
    rng = np.random.default_rng(seed)
    distances = rng.integers(0, 3, 8)
    relevant = rng.random(8) < 0.4
    relevant[rng.integers(0, 8)] = True
    assert one(distances, relevant, 4) == pytest.approx(brute_force(distances, relevant), abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("k", [1, 3, 5])
def test_expected_ap_at_k_equals_the_mean_over_every_order_of_the_ties(seed, k):
    rng = np.random.default_rng(100 + seed)
    distances = rng.integers(0, 3, 8)
    relevant = rng.random(8) < 0.4
    relevant[rng.integers(0, 8)] = True
    assert one(distances, relevant, 4, k=k) == pytest.approx(brute_force(distances, relevant, k), abs=1e-12)


def test_ap_at_k_by_hand_for_the_three_rules():
    # a group of 4 at distance 0 with 2 relevant items, then 1 relevant item at distance 1; k = 3
    distances, relevant = [0, 0, 0, 0, 1], [True, False, True, False, True]
    assert one(distances, relevant, 2, "pessimistic", k=3) == pytest.approx((1 / 3) / 3)  # rank 3 only
    assert one(distances, relevant, 2, "optimistic", k=3) == pytest.approx((1 + 1) / 3)  # ranks 1, 2
    # without ties AP@k is plain AP@k, and a cutoff past the database changes nothing
    plain = [0, 1, 2, 3, 4]
    assert one(plain, relevant, 5, k=3) == pytest.approx(ap_of_order(np.array(relevant), 3))
    assert one(distances, relevant, 2, k=100) == pytest.approx(one(distances, relevant, 2))


def test_a_hand_computed_case_and_the_two_bounds():
    # one group of 4 at distance 0 holding 2 relevant items, then 1 relevant at distance 1
    distances, relevant = [0, 0, 0, 0, 1], [True, False, True, False, True]
    pessimistic = (1 / 3 + 2 / 4 + 3 / 5) / 3  # ranks 3, 4, 5
    optimistic = (1 / 1 + 2 / 2 + 3 / 5) / 3  # ranks 1, 2, 5
    assert one(distances, relevant, 2, "pessimistic") == pytest.approx(pessimistic)
    assert one(distances, relevant, 2, "optimistic") == pytest.approx(optimistic)
    expected = one(distances, relevant, 2)
    assert pessimistic < expected < optimistic
    assert expected == pytest.approx(brute_force(np.array(distances), np.array(relevant)))


def test_without_ties_every_rule_is_plain_ap():
    rng = np.random.default_rng(5)
    relevant = rng.random((3, 30)) < 0.3
    distances = np.tile(np.arange(30), (3, 1))
    counts, hits = metrics.tie_counts(distances, relevant, 30)
    plain = metrics.average_precision(metrics.ranks_from_relevance(relevant), relevant.sum(1))
    for rule in metrics.TIE_RULES:
        np.testing.assert_allclose(metrics.tied_average_precision(counts, hits, rule), plain, rtol=1e-12)


def test_the_pessimistic_rule_matches_the_exact_rankers_tie_rule():
    rng = np.random.default_rng(6)
    distances = rng.integers(0, 4, (5, 40))
    relevant = rng.random((5, 40)) < 0.3
    order = np.lexsort((relevant, distances), axis=1)  # by distance, then non-relevant first
    ranked = np.take_along_axis(relevant, order, axis=1)
    plain = metrics.average_precision(metrics.ranks_from_relevance(ranked), relevant.sum(1))
    counts, hits = metrics.tie_counts(distances, relevant, 4)
    np.testing.assert_allclose(metrics.tied_average_precision(counts, hits, "pessimistic"), plain, rtol=1e-12)


def test_no_relevant_item_gives_nan_and_bad_input_is_refused():
    counts, hits = metrics.tie_counts(np.array([[0, 1]]), np.array([[False, False]]), 2)
    assert np.isnan(metrics.tied_average_precision(counts, hits)[0])
    with pytest.raises(ValueError, match="from 0 to 1"):
        metrics.tie_counts(np.array([[0, 2]]), np.array([[True, False]]), 2)
    with pytest.raises(ValueError, match="unknown tie rule"):
        metrics.tied_average_precision(counts, hits, "random")
