import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from ganret_lib.retrieval import exact, index, metrics


def clustered(n, d=8, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centers = rng.normal(size=(classes, d)) * 1.5
    return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_exact_ranking_agrees_with_sklearn(metric):
    xb, yb = clustered(1500)
    xq, yq = clustered(40, seed=1)
    ours = exact.evaluate_exact(xq, yq, xb, yb, metric, progress=False)["ap_all"]
    q, b = exact._check_pair(xq, xb, metric)
    dist = exact.ranking_keys(*exact.key_operands(q, b, metric))  # the same float32 keys
    # sklearn scores tied items together; compare where no distance repeats (all but a few rows)
    untied = [i for i in range(len(xq)) if len(np.unique(dist[i])) == len(xb)]
    assert len(untied) >= 30
    theirs = [average_precision_score(yb == yq[i], -dist[i]) for i in untied]
    np.testing.assert_allclose(ours[untied], theirs, atol=1e-6)


def test_ties_rank_non_relevant_first_whatever_the_order():
    xq, yq = np.zeros((1, 1)), np.array([0])
    xb = np.array([[1.0], [1.0], [2.0]])
    for yb in (np.array([0, 1, 0]), np.array([1, 0, 0])):  # the tied pair in both orders
        ap = exact.evaluate_exact(xq, yq, xb, yb, progress=False)["ap_all"][0]
        assert ap == pytest.approx((1 / 2 + 2 / 3) / 2)  # relevant at ranks 2 and 3


def test_self_match_excluded_by_id_not_by_position():
    xb, yb = clustered(600)
    ids = np.arange(0, 600, 50)
    with_self = exact.evaluate_exact(xb[ids], yb[ids], xb, yb, query_ids=ids, progress=False)
    for j, i in enumerate(ids):
        keep = np.arange(len(xb)) != i
        alone = exact.evaluate_exact(xb[[i]], yb[[i]], xb[keep], yb[keep], progress=False)
        assert with_self["ap_all"][j] == pytest.approx(alone["ap_all"][0])
        assert with_self["n_relevant"][j] == alone["n_relevant"][0]


def test_results_come_back_in_query_order():
    xb, yb = clustered(500)
    xq, yq = clustered(30, seed=2)
    full = exact.evaluate_exact(xq, yq, xb, yb, progress=False)["ap_all"]
    one_by_one = [exact.evaluate_exact(xq[[i]], yq[[i]], xb, yb, progress=False)["ap_all"][0] for i in range(30)]
    np.testing.assert_allclose(full, one_by_one)


def test_query_label_absent_from_database():
    xb, yb = clustered(100, classes=2)
    per_query = exact.evaluate_exact(xb[:2], np.array([7, yb[1]]), xb, yb, progress=False)
    assert np.isnan(per_query["ap_all"][0]) and per_query["n_relevant"][0] == 0
    assert metrics.summarize(per_query)["n_queries_without_relevant"] == 1


def test_flat_index_matches_brute_force_and_excludes_self():
    xb, _ = clustered(300)
    D, I = index.Index.build(xb).search(xb[:20], 5, progress=False)
    brute = np.argsort(((xb[:20, None] - xb[None]) ** 2).sum(-1), axis=1)[:, :5]
    np.testing.assert_array_equal(I, brute)
    assert (np.diff(D, axis=1) >= 0).all()
    D2, I2 = index.Index.build(xb).search(xb[:20], 5, exclude_ids=np.arange(20), progress=False)
    assert not (I2 == np.arange(20)[:, None]).any()
    np.testing.assert_array_equal(I2[:, :4], I[:, 1:])  # the self match was rank 0


@pytest.mark.parametrize("kind", ["ivf", "hnsw", "pq"])
def test_approximate_indexes_find_most_true_neighbours(kind):
    xb, _ = clustered(2000, d=16)
    _, exact = index.Index.build(xb).search(xb[:50], 10, progress=False)
    _, approx = index.Index.build(xb, kind=kind, nlist=16, nprobe=4).search(xb[:50], 10, progress=False)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert recall > (0.3 if kind == "pq" else 0.8)


def test_cosine_distances_are_one_minus_similarity():
    xb = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    D, I = index.Index.build(xb, metric="cosine").search(np.array([[3.0, 0.0]]), 3, progress=False)
    np.testing.assert_array_equal(I[0], [0, 2, 1])
    np.testing.assert_allclose(D[0], [0.0, 1 - np.sqrt(0.5), 1.0], atol=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda: index.Index.build(np.zeros((0, 4))), "empty"),
    (lambda: index.Index.build(np.zeros((5, 4))).search(np.zeros((1, 4)), 6, progress=False), "k=6"),
    (lambda: index.Index.build(np.zeros((5, 4))).search(np.zeros((1, 4)), 5, exclude_ids=[0], progress=False),
     "one excluded"),
    (lambda: index.Index.build(np.zeros((5, 4))).search(np.zeros((1, 3)), 1, progress=False), "dimensions"),
    (lambda: index.Index.build(np.zeros((5, 4, 4))), "2-D"),
    (lambda: index.Index.build(np.full((5, 4), np.nan)), "NaN"),
    (lambda: index.Index.build(np.zeros((5, 4)), kind="lsh"), "unknown index kind"),
    (lambda: exact.evaluate_exact(np.zeros((2, 3)), [0, 1], np.zeros((4, 3)), [0, 1, 0], progress=False), "labels"),
    (lambda: exact.evaluate_exact(np.zeros((2, 3)), [0, 1], np.zeros((4, 3)), [0] * 4, metric="dot"), "unknown metric"),
    (lambda: exact.evaluate_exact(np.ones((2, 3)), [0, 1], np.ones((4, 3)), [0] * 4, ranker="heap"), "unknown ranker"),
    pytest.param(lambda: exact.evaluate_exact(np.ones((2, 3)), [0, 1], np.ones((4, 3)), [0] * 4, device="cuda"),
                 "CUDA is not available", marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA here")),
])
def test_bad_input_gives_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_compare_indexes_reports_exact_search_as_perfect():
    rng = np.random.default_rng(0)
    xb, xq = rng.normal(size=(2000, 32)).astype(np.float32), rng.normal(size=(50, 32)).astype(np.float32)
    rows = index.compare_indexes(xb, xq, k=10, sweeps={"flat": [None], "ivf": [1, 178], "pq": [8]}, pq_m=8)
    assert [r["kind"] for r in rows] == ["flat", "ivf", "ivf", "pq"]
    assert rows[0]["recall_at_10"] == 1.0 and rows[0]["bytes_per_vector"] >= 32 * 4
    assert rows[1]["recall_at_10"] < rows[2]["recall_at_10"]  # visiting more cells finds more
    assert rows[2]["recall_at_10"] == 1.0  # all cells visited (2000 // 39 = 51 <= 178): exact
    assert rows[3]["bytes_per_vector"] < 32 * 4 / 2  # 8 one-byte codes plus the list ids


def test_inner_product_metric_ranks_by_scaled_similarity():
    xb = np.array([[1.0, 0.0], [0.0, 3.0], [0.0, 1.0]], np.float32)  # cosine would tie items 1 and 2
    xq = np.array([[0.6, 0.8]], np.float32)
    D, I = index.Index.build(xb, metric="ip").search(xq, 3, progress=False)
    assert I[0].tolist() == [1, 2, 0] and np.allclose(D[0], [-2.4, -0.8, -0.6])  # q.b = 2.4, 0.8, 0.6
    per_query = exact.evaluate_exact(xq, np.array([1]), xb, np.array([0, 1, 0]), metric="ip", progress=False)
    np.testing.assert_allclose(per_query["ap_all"], [1.0])


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf", "pq"])
def test_index_save_load_gives_the_same_results_and_keeps_ids(tmp_path, kind):
    xb = np.random.default_rng(5).normal(size=(400, 16)).astype(np.float32)
    ids = np.arange(400) * 10 + 7  # the caller's ids, not positions
    built = index.Index(16, "cosine", kind, nlist=8, nprobe=8, pq_m=4).train(xb).add(xb, ids)
    D, I = built.search(xb[:25], 5, progress=False)
    assert set(I.ravel()) <= set(ids)
    path = built.save(tmp_path / "x.index", descriptor="pca-abc")
    loaded = index.Index.load(path, descriptor="pca-abc")
    D2, I2 = loaded.search(xb[:25], 5, progress=False)
    np.testing.assert_array_equal(I, I2)
    np.testing.assert_array_equal(D, D2)
    assert loaded.ntotal == 400 and loaded.kind == kind and loaded.metric == "cosine"
    _, own = loaded.search(xb[:5], 1, exclude_ids=ids[:5], progress=False)
    assert not np.any(own[:, 0] == ids[:5])  # excluded by the caller's id


def test_index_lifecycle_and_file_errors(tmp_path):
    xb = np.random.default_rng(0).normal(size=(200, 8)).astype(np.float32)
    ivf = index.Index(8, kind="ivf", nlist=4)
    with pytest.raises(RuntimeError, match="must be trained"):
        ivf.add(xb)
    flat = index.Index.build(xb)
    flat.add(xb[:3])  # ids continue after the first 200
    assert flat.ntotal == 203 and flat.ids[-1] == 202
    path = flat.save(tmp_path / "flat.index", descriptor="pixels-1")
    with pytest.raises(index.IndexFileError, match="built with descriptor 'pixels-1'"):
        index.Index.load(path, descriptor="pca-2")
    (tmp_path / "junk.index").write_bytes(b"this is not an index")
    with pytest.raises(index.IndexFileError, match="not a saved ganret index"):
        index.Index.load(tmp_path / "junk.index")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(index.IndexFileError, match="not a saved ganret index"):
        index.Index.load(tmp_path / "other.npz")
    with pytest.raises(index.IndexFileError, match="no index file"):
        index.Index.load(tmp_path / "missing.index")


def test_a_tie_with_the_last_relevant_item_goes_to_the_non_relevant_one():
    xq, yq = np.zeros((1, 1)), np.array([0])
    xb, yb = np.array([[1.0], [2.0], [2.0]]), np.array([0, 0, 1])  # the last relevant ties
    ap = exact.evaluate_exact(xq, yq, xb, yb, progress=False)["ap_all"][0]
    assert ap == pytest.approx((1 / 1 + 2 / 3) / 2)  # relevant at ranks 1 and 3, not 1 and 2


def brute_force_ap(dist: np.ndarray, relevant: np.ndarray) -> float:
    """AP from independently computed distances, ties broken as the book states: among equal
    distances the non-relevant items come first."""
    order = np.lexsort((relevant, dist))  # by distance, then non-relevant (False) first
    hits = np.flatnonzero(relevant[order]) + 1
    return float(np.mean(np.arange(1, len(hits) + 1) / hits))


@pytest.mark.parametrize("metric", ["l2", "ip"])  # cosine is ip on normalised vectors
def test_exact_ranking_equals_a_brute_force_reference_with_ties(metric):
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(7)
    xb = rng.integers(-2, 3, size=(400, 3)).astype(np.float64)  # small integers: many exact ties
    xq = rng.integers(-2, 3, size=(25, 3)).astype(np.float64)
    yb, yq = rng.integers(0, 3, 400), rng.integers(0, 3, 25)
    dist = cdist(xq, xb, "sqeuclidean") if metric == "l2" else -(xq @ xb.T)
    ours = exact.evaluate_exact(xq, yq, xb, yb, metric, progress=False, dtype=np.float64)["ap_all"]
    reference = [brute_force_ap(dist[i], yb == yq[i]) for i in range(len(xq))]
    np.testing.assert_allclose(ours, reference, rtol=1e-12)


def test_query_ids_out_of_range_are_clear_errors():
    xb, yb = clustered(50)
    for bad in ([60], [-2]):
        with pytest.raises(ValueError, match="query_ids"):
            exact.evaluate_exact(xb[:1], yb[:1], xb, yb, query_ids=bad, progress=False)


def test_pq_needs_a_dimension_divisible_by_the_code_size():
    with pytest.raises(ValueError, match="multiple of pq_m"):
        index.Index(10, kind="pq", pq_m=4)


def test_protocol_evaluate_and_describe_on_a_small_split():
    from ganret_lib.retrieval import protocol

    xb, yb = clustered(80)
    xq, yq = clustered(10, seed=3)
    split = protocol.Split(xb, yb, xq, yq, np.arange(80), np.arange(10), dataset="toy", split_sizes=(80, 20))
    assert split.describe()["dataset"] == "toy" and split.describe()["subset"] == "class-balanced, seeded"
    per_query = {}
    row = protocol.evaluate("pixels", xq, xb, split, "l2", progress=False, per_query=per_query, note="x")
    direct = exact.evaluate_exact(xq, yq, xb, yb, "l2", progress=False)["ap_all"]
    np.testing.assert_array_equal(per_query["pixels"]["ap_all"], direct)
    assert "p_at_10" in per_query["pixels"] and "pr_curve" not in per_query["pixels"]
    direct = direct.mean()
    assert row["method"] == "pixels" and row["note"] == "x" and row["dim"] == 8
    assert row["map_all"] == pytest.approx(direct, abs=1e-6) and row["n_queries"] == 10


def test_batch_size_and_threads_move_ap_by_rounding_only_and_not_at_all_in_float64():
    rng = np.random.default_rng(11)
    yb, yq = rng.integers(0, 4, 700), rng.integers(0, 4, 60)
    xb = (rng.normal(size=(700, 16)) + yb[:, None]).round(1).astype(np.float32)  # coarse: many ties
    xq = (rng.normal(size=(60, 16)) + yq[:, None]).round(1).astype(np.float32)
    runs = {(b, t): exact.evaluate_exact(xq, yq, xb, yb, batch_size=b, threads=t, progress=False)["ap_all"]
            for b in (7, 64, 256) for t in (1, 2)}
    reference = runs[256, 2]
    for result in runs.values():  # float32 rounding decides near-ties: bounded, not zero
        np.testing.assert_allclose(result, reference, atol=1e-3)
    # integer features are exact in float64: the result is then the same bit for bit
    xb_int, xq_int = np.round(xb * 10), np.round(xq * 10)
    exact64 = [exact.evaluate_exact(xq_int, yq, xb_int, yb, batch_size=b, threads=t, dtype=np.float64,
                                    progress=False)["ap_all"] for b in (7, 256) for t in (1, 2)]
    for result in exact64[1:]:
        np.testing.assert_array_equal(result, exact64[0])


def test_validation_queries_come_from_the_training_split_and_stay_out_of_the_database():
    from ganret_lib.data import fashion_mnist
    from ganret_lib.retrieval import protocol

    if fashion_mnist.find_fashion_mnist() is None:
        pytest.skip("Fashion-MNIST is not installed here (make data)")
    val = protocol.load_validation_split(n_db=3000, n_queries=500, seed=0)
    assert len(val.yb) == 3000 and len(val.yq) == 500
    assert not set(val.db_ids) & set(val.query_ids)
    assert np.bincount(val.yq).tolist() == [50] * 10 and np.bincount(val.yb).tolist() == [300] * 10
    xtrain, _ = fashion_mnist.load_fashion_mnist("train")
    np.testing.assert_array_equal(val.xq, xtrain[val.query_ids])
    assert val.describe()["queries"] == "train split"
    again = protocol.load_validation_split(n_db=3000, n_queries=500, seed=0)
    np.testing.assert_array_equal(again.db_ids, val.db_ids)
    assert len(protocol.load_validation_split(None, 500, seed=0).yb) == 60000 - 500


def test_target_ranks_by_hand_with_ties_ranked_ahead():
    xb = np.array([[0.0], [1.0], [2.0], [2.0], [5.0]], dtype=np.float32)
    xq = np.array([[0.1], [2.0], [4.9], [2.0]], dtype=np.float32)
    # query 0: target 4 (distance 4.9) is last; query 1: target 2 ties with item 3, which goes first;
    # query 2: target 4 is the nearest; query 3: target 1 (distance 1) after items 2 and 3 (distance 0)
    ranks = exact.target_ranks(xq, xb, [4, 2, 4, 1], "l2", batch_size=3)
    np.testing.assert_array_equal(ranks, [5, 2, 1, 3])
    with pytest.raises(ValueError, match="one entry per query"):
        exact.target_ranks(xq, xb, [0, 1], "l2")
    with pytest.raises(ValueError, match="database positions"):
        exact.target_ranks(xq, xb, [0, 1, 2, 5], "l2")


@pytest.mark.parametrize("metric", ["l2", "cosine", "ip"])
def test_target_ranks_count_the_items_at_most_as_far_as_the_target(metric):
    rng = np.random.default_rng(1)
    xb = rng.integers(-2, 3, size=(300, 4)).astype(np.float32)  # small integers: many ties
    xq = rng.integers(-2, 3, size=(50, 4)).astype(np.float32)
    targets = rng.integers(0, 300, 50)
    a, b = exact.key_operands(*exact._check_pair(xq, xb, metric), metric)
    expected = []
    for lo in range(0, 50, 7):  # the same batches: float32 keys of unit vectors round by batch shape
        keys = exact.ranking_keys(a[lo:lo + 7], b)
        expected += list((keys <= keys[np.arange(len(keys)), targets[lo:lo + 7]][:, None]).sum(1))
    np.testing.assert_array_equal(exact.target_ranks(xq, xb, targets, metric, batch_size=7), expected)
    # any thread count, and the torch path that a GPU takes (run here on the CPU), count the same
    np.testing.assert_array_equal(exact.target_ranks(xq, xb, targets, metric, batch_size=7, threads=3), expected)
    on_device = exact._target_ranks_on_device(torch.device("cpu"), *exact._check_pair(xq, xb, metric),
                                              targets, metric, batch_size=7)
    np.testing.assert_array_equal(on_device, expected)


def test_instance_protocol_finds_each_query_s_clean_copy():
    from ganret_lib.retrieval import protocol

    xb, yb = clustered(80)
    xq, yq = clustered(10, seed=3)
    split = protocol.with_clean_copies(protocol.Split(xb, yb, xq, yq, np.arange(80), np.arange(10),
                                                      dataset="toy", split_sizes=(80, 10)))
    assert len(split.yb) == 90 and np.array_equal(split.targets, 80 + np.arange(10))
    assert np.array_equal(split.xb[split.targets], xq)
    described = split.describe()
    assert described["relevance"] == "the query's own clean copy" and described["subset"] == "none"
    per_query = {}
    clean = protocol.evaluate_instance("clean", xq, split.xb, split, "l2", per_query=per_query)
    assert (clean["recall_at_1"], clean["recall_at_10"], clean["mrr"]) == (1.0, 1.0, 1.0)
    noisy = xq + np.random.default_rng(0).normal(scale=3.0, size=xq.shape).astype(np.float32)
    row = protocol.evaluate_instance("noisy", noisy, split.xb, split, "l2", per_query=per_query, severity=2)
    ranks = exact.target_ranks(noisy, split.xb, split.targets, "l2")
    assert row["mrr"] == pytest.approx(np.mean(1 / ranks), abs=1e-6) and row["severity"] == 2
    assert row["recall_at_1"] == pytest.approx(np.mean(ranks == 1)) and row["recall_at_1"] < 1
    np.testing.assert_allclose(per_query["noisy"]["rr"], 1 / ranks)
    with pytest.raises(ValueError, match="already holds"):
        protocol.with_clean_copies(split)
    with pytest.raises(ValueError, match="with_clean_copies"):
        protocol.evaluate_instance("x", xq, xb, protocol.Split(xb, yb, xq, yq, np.arange(80), np.arange(10)))


def test_counting_ranker_by_hand_ties_and_exclusion():
    # relevant block = positions 1..2 (keys 1 and 2); non-relevant keys 3, 2, 5: the tied 2 goes first
    keys = np.array([[3.0, 1.0, 2.0, 2.0, 5.0],
                     [3.0, np.inf, 2.0, 0.5, 5.0]])  # row 2: its relevant key 1 excluded (inf)
    ranks = exact.ranks_by_counting(keys, 1, 3, np.array([2, 1]))
    np.testing.assert_array_equal(ranks, [[1, 3], [2, np.inf]])  # row 2: only 0.5 is ahead of its 2
    assert exact.ranks_by_counting(keys, 2, 2, np.array([0, 0])).shape == (2, 0)


def test_both_rankers_give_the_same_aps_and_an_unknown_one_is_refused():
    xb, yb = clustered(900)
    xq, yq = clustered(25, seed=4)
    ids = np.arange(25)  # queries drawn from the database, excluded by id
    runs = [exact.evaluate_exact(xb[ids], yb[ids], xb, yb, query_ids=ids, ranker=r, progress=False)["ap_all"]
            for r in exact.RANKERS]
    np.testing.assert_array_equal(runs[0], runs[1])
    with pytest.raises(ValueError, match="unknown ranker"):
        exact.evaluate_exact(xq, yq, xb, yb, ranker="merge", progress=False)


def bits_of(values, bits=16):
    """Codes (N, bits) whose bit i is bit i of each integer."""
    return (np.asarray(values)[:, None] >> np.arange(bits)) & 1 == 1


def test_compare_binary_indexes_counts_every_tied_answer_and_missing_ones():
    # query 0; database: 2 items at distance 0, 6 at distance 1, 500 at distance 3 or more
    rng = np.random.default_rng(0)
    far = [v for v in rng.integers(0, 2 ** 16, 5000) if bin(v).count("1") >= 3][:500]
    db = bits_of([0, 0, 1, 2, 4, 8, 16, 32, *far])
    q = bits_of([0])
    rows = index.compare_binary_indexes(db, q, k=4, sweeps={"flat": [None], "hnsw": [512], "multihash": [0, 1]},
                                        repeats=1)
    recall = {(r["kind"], r["value"]): r["recall_at_4"] for r in rows}
    # the 4th distance is 1: any 2 of the 6 single-bit items complete a valid answer
    assert recall["flat", None] == 1.0 and recall["hnsw", 512] == 1.0
    # one 16-bit substring, no flip: only the 2 exact duplicates are found, the other 2 slots are empty
    assert recall["multihash", 0] == 0.5
    assert recall["multihash", 1] == 1.0  # one flip reaches the distance-1 items
    assert all(r["bits"] == 16 and r["qps"] > 0 for r in rows)
    assert rows[0]["bytes_per_item"] >= 2  # at least the 2-byte code


@pytest.mark.parametrize("db, q, k, message", [
    (np.zeros((10, 12), bool), np.zeros((1, 12), bool), 1, "multiple of 8"),
    (np.zeros((10, 16), bool), np.zeros((1, 8), bool), 1, "one code length"),
    (np.zeros((10, 16), bool), np.zeros((1, 16), bool), 11, "k must be between"),
])
def test_compare_binary_indexes_rejects_bad_input(db, q, k, message):
    with pytest.raises(ValueError, match=message):
        index.compare_binary_indexes(db, q, k=k)
