"""Diffusion on the k-NN graph (retrieval.diffusion), against dense linear algebra on small cases."""
import numpy as np
import pytest

from ganret_lib.retrieval import diffusion, exact
from ganret_lib.retrieval.vectors import l2_normalise


def dense_affinity(x, k, gamma):
    """The mutual k-NN affinity by brute force, as the module defines it."""
    x = l2_normalise(x.astype(np.float64))
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)  # an item is not its own neighbour
    a = np.zeros_like(sims)
    for i, row in enumerate(sims):
        nearest = np.argsort(-row, kind="stable")[:k]
        a[i, nearest] = np.maximum(row[nearest], 0) ** gamma
    return np.minimum(a, a.T)


def test_affinity_is_the_mutual_knn_graph():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 8)).astype(np.float32)
    got = diffusion.knn_affinity(x, k=5, gamma=3.0).toarray()
    want = dense_affinity(x, 5, 3.0)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert (got == got.T).all() and (np.diag(got) == 0).all() and (got > 0).sum() <= 40 * 5


def test_conjugate_gradient_solves_every_column_as_a_dense_solve():
    rng = np.random.default_rng(1)
    m = rng.standard_normal((30, 30))
    spd = m @ m.T + 30 * np.eye(30)
    b = rng.standard_normal((30, 4))
    x = diffusion.conjugate_gradient(lambda v: spd @ v, b, max_iter=200, tol=1e-12)
    np.testing.assert_allclose(x, np.linalg.solve(spd, b), rtol=1e-8, atol=1e-10)


def test_scores_equal_the_dense_solution_of_the_diffusion_system():
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((3, 6)) * 3
    xb = (centres[rng.integers(0, 3, 90)] + rng.standard_normal((90, 6))).astype(np.float32)
    xq = (centres[[0, 2]] + 0.3 * rng.standard_normal((2, 6))).astype(np.float32)
    config = diffusion.DiffusionConfig(k=6, k_query=4, alpha=0.9, gamma=3.0, max_iter=500, tol=1e-12)
    model = diffusion.Diffusion(xb, config)
    a = dense_affinity(xb, 6, 3.0)
    degree = a.sum(1)
    inv = np.zeros_like(degree)
    inv[degree > 0] = degree[degree > 0] ** -0.5  # an isolated item keeps a zero row
    s = inv[:, None] * a * inv[None, :]
    y = model.start(xq)
    assert ((y > 0).sum(0) == 4).all()  # each query starts from its 4 nearest items
    want = np.linalg.solve(np.eye(90) - 0.9 * s, y).T
    np.testing.assert_allclose(model.scores(xq), want, rtol=1e-6, atol=1e-9)


def test_diffusion_follows_the_manifold_where_cosine_does_not():
    """A chain of items along a quarter circle, and a tight cluster at 60 degrees from the query:
    by cosine the cluster comes before the chain's far end; diffusion walks the chain first."""
    angles = np.linspace(0, np.pi / 2, 21)
    chain = np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)], 1)
    tilt = np.radians(60) + np.radians(0.5) * np.arange(5)
    cluster = np.stack([np.cos(tilt), np.zeros(5), np.sin(tilt)], 1)
    xb = np.concatenate([chain, cluster]).astype(np.float32)
    query = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
    by_cosine = np.argsort(-(xb @ query[0]), kind="stable")
    assert set(by_cosine[:21]) != set(range(21))  # cosine ranks cluster items inside the chain
    model = diffusion.Diffusion(xb, diffusion.DiffusionConfig(k=2, k_query=2, alpha=0.99, max_iter=200))
    f = model.scores(query)[0]
    assert (f[:21] > 0).all() and (f[21:] == 0).all()  # the cluster is never reached


def test_evaluate_keys_equals_the_exact_ranker_on_its_own_keys():
    rng = np.random.default_rng(3)
    xb, yb = rng.standard_normal((300, 5)).astype(np.float32), rng.integers(0, 4, 300)
    xq, yq = rng.standard_normal((40, 5)).astype(np.float32), rng.integers(0, 4, 40)
    a, b = exact.key_operands(xq, xb, "l2")
    via_keys = exact.evaluate_keys(lambda q: a[q] @ b.T, yq, yb, progress=False)
    direct = exact.evaluate_exact(xq, yq, xb, yb, "l2", progress=False)
    np.testing.assert_allclose(via_keys["ap_all"], direct["ap_all"], atol=1e-12)
    assert via_keys["ap_all"].std() > 0


def test_bad_settings_are_refused():
    xb = np.eye(5, dtype=np.float32)
    with pytest.raises(ValueError, match="alpha must lie strictly between 0 and 1"):
        diffusion.Diffusion(xb, diffusion.DiffusionConfig(alpha=1.0))
    with pytest.raises(ValueError, match="k must be between 1 and the database size - 1"):
        diffusion.knn_affinity(xb, k=5, gamma=1.0)
