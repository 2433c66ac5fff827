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


def test_interpolation_reaches_exact_recall_levels():
    # R = 10, relevant at ranks 1, 2, 3, 50..56: at recall 0.3 (3 items) the precision is 1.0; a
    # float ceiling of 0.3 * 10 = 3.0000000000000004 used to ask for a 4th item (precision 4/50)
    ranks = np.array([[1, 2, 3, *range(50, 57)]], dtype=float)
    curve = metrics.interpolated_precision(ranks, [10])[0]
    level = int(np.flatnonzero(np.isclose(metrics.RECALL_LEVELS, 0.3))[0])
    assert curve[level] == 1.0
    for r in (10, 1000, 6000):  # level j / 20 asks for ceil(j R / 20) items, in integers
        needed = metrics.items_needed(metrics.RECALL_LEVELS, r)
        np.testing.assert_array_equal(needed, np.maximum(-(-np.arange(21) * r // 20), 1))


def test_interpolation_takes_the_running_maximum():
    ranks = np.array([[1.0, 4.0, 5.0]])  # precisions 1, 0.5, 0.6: not monotone
    curve = metrics.interpolated_precision(ranks, [3], np.array([0.5, 2 / 3, 1.0]))
    np.testing.assert_allclose(curve, [[0.6, 0.6, 0.6]])  # at 0.5 the best at recall >= 0.5 is 0.6


def sklearn_interpolated(relevant: np.ndarray, scores: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """An independent reference: scikit-learn's curve, max precision at recall >= t (exact levels)."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(relevant, scores)
    precision, recall = precision[:-1], recall[:-1]  # drop the added (recall 0, precision 1) end
    return np.array([precision[recall >= t - 1e-12].max() for t in levels])


def test_interpolated_curve_agrees_with_scikit_learn():
    rng = np.random.default_rng(3)
    # a block at the top, then a gap (where a skipped item shows), and random placements
    top_then_gap = np.isin(np.arange(300), [0, 1, 2, *range(49, 56), *range(200, 210)])
    cases = [top_then_gap] + [np.isin(np.arange(300), rng.choice(300, r, replace=False))
                              for r in (1, 7, 10, 20, 60)]
    for relevant in cases:
        n_relevant = int(relevant.sum())
        scores = 300.0 - np.arange(300)  # item j at rank j + 1; no ties
        order = np.argsort(-scores)
        ranks = metrics.ranks_from_relevance(relevant[order][None])
        ours = metrics.interpolated_precision(ranks, [n_relevant])[0]
        np.testing.assert_allclose(ours, sklearn_interpolated(relevant, scores, metrics.RECALL_LEVELS))


def test_summarised_curve_says_how_it_was_interpolated():
    per_query = metrics.evaluate_ranks(np.array([[1.0, 3.0]]), np.array([2]))
    curve = metrics.summarize(per_query)["pr_curve"]
    assert curve["interpolation"] == metrics.PR_INTERPOLATION and len(curve["precision"]) == 21


def test_ap_at_k_counts_a_relevant_item_at_rank_exactly_k():
    ranks = np.array([[1.0, 2.0]])
    assert metrics.average_precision(ranks, [2], k=2)[0] == 1.0
    assert metrics.average_precision(ranks, [3], k=1)[0] == 1.0


def test_metrics_of_several_queries_stay_per_query():
    # query 0: R = 1 found at rank 2; query 1: R = 0; query 2: R = 2 at ranks 1 and 4
    ranks = np.array([[2.0, np.inf], [np.inf, np.inf], [1.0, 4.0]])
    n_relevant = np.array([1, 0, 2])
    np.testing.assert_allclose(metrics.recall_at_k(ranks, n_relevant, 2), [1.0, np.nan, 0.5])
    curve = metrics.interpolated_precision(ranks, n_relevant, np.array([0.5, 1.0]))
    np.testing.assert_allclose(curve, [[0.5, 0.5], [np.nan, np.nan], [1.0, 0.5]])
    per_query = metrics.evaluate_ranks(ranks, n_relevant, precision_ks=(2,), ap_ks=(2,))
    assert set(per_query) == {"n_relevant", "ap_all", "ap_2", "p_at_2", "r_at_2", "pr_curve"}
    np.testing.assert_allclose(per_query["ap_all"], [0.5, np.nan, (1 + 2 / 4) / 2])
    np.testing.assert_allclose(per_query["ap_2"], [0.5, np.nan, 0.5])  # AP@2, not AP@all
    summary = metrics.summarize(per_query)
    assert set(summary) == {"n_queries", "n_queries_without_relevant", "map_all", "map_2", "p_at_2",
                            "r_at_2", "pr_curve"}
    assert summary["n_queries"] == 3 and summary["n_queries_without_relevant"] == 1
    assert summary["map_2"] == pytest.approx(0.5) and summary["r_at_2"] == pytest.approx(0.75)
    assert summary["pr_curve"]["recall"][:2] == [0.0, 0.05]
    batches = metrics.concat_batches([metrics.evaluate_ranks(ranks[:1], n_relevant[:1]),
                                      metrics.evaluate_ranks(ranks[1:], n_relevant[1:])])
    np.testing.assert_allclose(batches["ap_all"], per_query["ap_all"])


def test_paired_bootstrap_of_a_constant_difference_is_that_difference():
    a = np.linspace(0, 1, 50)
    out = metrics.paired_bootstrap(a, a - 0.25, n_resamples=200)
    assert out["diff"] == pytest.approx(0.25) and out["low"] == pytest.approx(0.25)
    assert out["high"] == pytest.approx(0.25) and out["n_queries"] == 50


def test_paired_bootstrap_of_two_queries_spans_every_resampled_mean():
    # differences (0, 1): resampled means 0, 1/2, 1 with probabilities 1/4, 1/2, 1/4, so the
    # 2.5 % and 97.5 % percentiles are 0 and 1
    out = metrics.paired_bootstrap(np.array([0.0, 1.0]), np.zeros(2), n_resamples=4000)
    assert (out["diff"], out["low"], out["high"]) == (0.5, 0.0, 1.0)


def test_paired_bootstrap_matches_the_normal_interval_and_pairs_the_queries():
    rng = np.random.default_rng(0)
    shared = rng.normal(0, 5, 2000)  # query difficulty, common to both methods
    a, b = shared + 0.1 + rng.normal(0, 1, 2000), shared + rng.normal(0, 1, 2000)
    out = metrics.paired_bootstrap(a, b, n_resamples=4000, seed=1)
    d = a - b
    half = 1.96 * d.std(ddof=1) / np.sqrt(len(d))  # about 0.062; unpaired it would be about 0.23
    assert out["low"] == pytest.approx(d.mean() - half, abs=0.006)
    assert out["high"] == pytest.approx(d.mean() + half, abs=0.006)
    assert out == metrics.paired_bootstrap(a, b, n_resamples=4000, seed=1)  # seeded


def test_paired_bootstrap_drops_queries_without_relevant_items_and_checks_shapes():
    a, b = np.array([0.5, np.nan, 0.7, 0.2]), np.array([0.1, 0.3, np.nan, 0.0])
    out = metrics.paired_bootstrap(a, b, n_resamples=100)
    assert out["n_queries"] == 2 and out["diff"] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="same length"):
        metrics.paired_bootstrap(a, b[:3])
    with pytest.raises(ValueError, match="at least 2"):
        metrics.paired_bootstrap(a[:2], b[:2])


def test_instance_metrics_by_hand():
    out = metrics.instance_metrics(np.array([1, 2, 10, 11]))
    np.testing.assert_array_equal(out["recall_at_1"], [1, 0, 0, 0])
    np.testing.assert_array_equal(out["recall_at_10"], [1, 1, 1, 0])
    np.testing.assert_allclose(out["rr"], [1, 0.5, 0.1, 1 / 11])
    with pytest.raises(ValueError, match="1-based"):
        metrics.instance_metrics(np.array([0, 3]))
