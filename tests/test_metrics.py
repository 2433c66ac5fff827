import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from ganret_lib.retrieval import metrics


def test_hand_computed_fixture():
    # list: rel, non, rel, non, non; a third relevant item is never retrieved (R = 3)
    ranks = metrics.ranks_from_relevance(np.array([[1, 0, 1, 0, 0]]))
    np.testing.assert_array_equal(ranks, [[1, 3, np.inf, np.inf, np.inf]])
    R = np.array([3])
    assert metrics.average_precision(ranks, R)[0] == pytest.approx((1 / 1 + 2 / 3) / 3)
    assert metrics.average_precision(ranks, R, k=2)[0] == pytest.approx(1 / 2)  # divisor min(R, k)
    assert metrics.average_precision(ranks, R, k=5)[0] == pytest.approx((1 + 2 / 3) / 3)
    assert metrics.precision_at_k(ranks, 2)[0] == pytest.approx(0.5)
    assert metrics.recall_at_k(ranks, R, 2)[0] == pytest.approx(1 / 3)
    assert metrics.recall_at_k(ranks, R, 5)[0] == pytest.approx(2 / 3)


def test_perfect_and_worst_rankings():
    perfect = np.array([[1.0, 2.0, 3.0]])
    assert metrics.average_precision(perfect, [3])[0] == 1.0
    last = np.array([[8.0, 9.0, 10.0]])  # relevant items at the bottom of a 10-item list
    assert metrics.average_precision(last, [3])[0] == pytest.approx((1 / 8 + 2 / 9 + 3 / 10) / 3)


def test_interpolated_precision_fixture():
    ranks = np.array([[1.0, 3.0]])  # precisions 1 and 2/3 at recalls 0.5 and 1
    levels = np.array([0.0, 0.5, 0.55, 1.0])
    np.testing.assert_allclose(metrics.interpolated_precision(ranks, [2], levels), [[1, 1, 2 / 3, 2 / 3]])


def test_query_without_relevant_items_is_reported():
    ranks = np.array([[1.0, 2.0], [np.inf, np.inf]])
    per_query = metrics.evaluate_ranks(ranks, np.array([2, 0]), precision_ks=(1,), ap_ks=(1,))
    assert np.isnan(per_query["ap_all"][1])
    summary = metrics.summarize(per_query)
    assert summary["n_queries"] == 2 and summary["n_queries_without_relevant"] == 1
    assert summary["map_all"] == 1.0 and summary["p_at_1"] == 1.0


def test_matches_sklearn_average_precision_on_random_rankings():
    rng = np.random.default_rng(0)
    relevance = rng.random((30, 200)) < 0.2
    scores = -np.arange(200)  # the list order is the ranking
    ranks = metrics.ranks_from_relevance(relevance)
    ours = metrics.average_precision(ranks, relevance.sum(1))
    theirs = [average_precision_score(r, scores) for r in relevance]
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_relevance_must_be_2d():
    with pytest.raises(ValueError, match="2-D"):
        metrics.ranks_from_relevance(np.array([1, 0, 1]))
