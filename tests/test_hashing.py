"""Hashers, popcount distances and tie-aware evaluation (chapter 8) on hand-made cases."""
import itertools

import numpy as np
import pytest

from ganret_lib.methods import hashing
from ganret_lib.retrieval import metrics


def blobs(n=600, d=16, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((4, d)) * 3
    y = rng.integers(0, 4, n)
    return centres[y] + rng.standard_normal((n, d)), y


def test_itq_rotation_is_orthogonal_and_lowers_the_quantisation_error():
    x, _ = blobs()
    itq = hashing.ITQ(8).fit(x)
    assert np.allclose(itq.rotation.T @ itq.rotation, np.eye(8), atol=1e-10)
    assert itq.errors[-1] < itq.errors[0]
    assert all(b <= a + 1e-6 for a, b in zip(itq.errors, itq.errors[1:]))  # alternating minimisation


@pytest.mark.parametrize("name", hashing.HASHERS)
def test_every_hasher_gives_balanced_bits_of_the_asked_length(name):
    x, _ = blobs()
    codes = hashing.hasher(name, 8).fit(x).codes(x)
    assert codes.shape == (600, 8) and codes.dtype == bool
    assert 0.05 < codes.mean() < 0.95  # centred projections: neither all ones nor all zeros


def test_pca_hashing_is_the_sign_of_the_principal_components():
    x = np.array([[3.0, 0.1], [-3.0, -0.1], [2.0, -0.2], [-2.0, 0.2]])
    codes = hashing.PCAH(1).fit(x).codes(x)[:, 0]
    assert codes.tolist() in ([True, False, True, False], [False, True, False, True])  # the sign of the long axis


def test_spectral_hashing_picks_the_lowest_frequencies_first():
    x = np.random.default_rng(0).uniform(-1, 1, (500, 2)) * np.array([10.0, 1.0])  # one long direction
    sh = hashing.SH(3).fit(x)
    assert sh.direction.tolist() == [0, 0, 0]  # k = 1, 2, 3 on the long axis beat k = 1 on the short one


def test_pack_and_hamming_count_differing_bits():
    codes = np.array([[1, 0, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=bool)
    packed = hashing.pack(codes)
    assert packed.tolist() == [13, 0, 15]
    assert hashing.hamming(packed, packed).tolist() == [[0, 3, 1], [3, 0, 4], [1, 4, 0]]
    wide = np.ones((1, 64), dtype=bool)
    assert hashing.hamming(hashing.pack(wide), hashing.pack(~wide)).tolist() == [[64]]
    with pytest.raises(ValueError, match="bits <= 64"):
        hashing.pack(np.ones((1, 65), dtype=bool))


def test_tied_precision_at_k_is_the_mean_over_orders_within_ties():
    distances = np.array([[0, 1, 1, 1, 2, 2]])
    relevant = np.array([[True, True, False, False, True, False]])
    counts, hits = metrics.tie_counts(distances, relevant, 3)
    for k in (1, 2, 3, 4, 5):
        brute = []  # every order within the groups
        for a in itertools.permutations([1, 2, 3]):
            for b in itertools.permutations([4, 5]):
                order = [0, *a, *b]
                brute.append(relevant[0, order[:k]].mean())
        assert metrics.tied_precision_at_k(counts, hits, k)[0] == pytest.approx(np.mean(brute))


def test_evaluate_codes_puts_the_tie_rules_in_order_and_finds_exact_duplicates():
    x, y = blobs()
    codes = hashing.ITQ(8).fit(x).codes(x)
    found = hashing.evaluate_codes(codes[:50], y[:50], codes, y)
    assert set(found) == {"ap_expected", "ap_pessimistic", "ap_optimistic", "ap_1000", "p_at_10", "p_at_100"}
    # fewer items than the cutoff: AP@1000 is AP (divisor min(R, 1000) = R)
    np.testing.assert_allclose(found["ap_1000"], found["ap_expected"], rtol=1e-12)
    assert np.all(found["ap_pessimistic"] <= found["ap_expected"] + 1e-12)
    assert np.all(found["ap_expected"] <= found["ap_optimistic"] + 1e-12)
    assert found["ap_expected"].mean() > 0.5  # four well-separated blobs
