"""Query variants (methods.variants): inversion, variants, expansion and diversity, on cases a
hand can check."""
import numpy as np
import pytest
import torch

from ganret_lib.gan.models import DCGANConfig, Generator, init_weights
from ganret_lib.methods import variants


def test_refinement_recovers_the_code_of_a_generated_image():
    torch.manual_seed(0)
    linear = torch.nn.Linear(4, 16)  # a generator whose inversion is a least-squares problem
    z_true = torch.randn(5, 4)
    x = linear(z_true).detach()
    config = variants.InversionConfig(steps=600, lr=0.05, prior_weight=0.0)
    z = variants.refine(linear, x, torch.zeros(5, 4), config, device="cpu")
    assert torch.allclose(z, z_true, atol=2e-3)


def small_generator():
    torch.manual_seed(1)
    g = Generator(DCGANConfig(nz=8, ngf=4, ndf=4, nc=1, image_size=32))
    g.apply(init_weights)
    with torch.no_grad():  # batch-norm statistics of its own outputs, so that eval mode draws images
        for _ in range(30):
            g(torch.randn(64, 8, 1, 1))
    return g.eval()


def test_refinement_lowers_every_querys_error_and_beats_random_codes():
    g = small_generator()
    z_true = torch.randn(6, 8, 1, 1, generator=torch.Generator().manual_seed(2))
    x = g(z_true).detach()
    z0 = z_true + 0.8 * torch.randn(6, 8, 1, 1, generator=torch.Generator().manual_seed(3))
    z = variants.refine(g, x, z0, variants.InversionConfig(steps=100, lr=0.05, prior_weight=0.0), device="cpu")
    before, after = variants.reconstruction_error(g, z0, x), variants.reconstruction_error(g, z, x)
    random = variants.reconstruction_error(g, torch.randn(6, 8, 1, 1), x)
    assert (after < 0.5 * before).all() and (after < 0.1 * random).all()
    assert all(p.requires_grad for p in g.parameters())  # G is handed back trainable, unchanged
    assert torch.equal(g(z_true), x)


def test_refinement_does_not_depend_on_the_batch():
    g = small_generator()
    x = g(torch.randn(3, 8, 1, 1, generator=torch.Generator().manual_seed(4))).detach()
    z0 = torch.zeros(3, 8, 1, 1)
    together = variants.refine(g, x, z0, variants.InversionConfig(steps=10, batch_size=3), device="cpu")
    alone = variants.refine(g, x, z0, variants.InversionConfig(steps=10, batch_size=1), device="cpu")
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-4)


def test_variants_are_seeded_and_centred_on_the_code():
    z = torch.randn(4, 8, 1, 1)
    a, b = variants.latent_variants(z, 5, 0.3, seed=7), variants.latent_variants(z, 5, 0.3, seed=7)
    assert a.shape == (4, 5, 8, 1, 1) and torch.equal(a, b)
    assert not torch.equal(a, variants.latent_variants(z, 5, 0.3, seed=8))
    assert torch.equal(variants.latent_variants(z, 3, 0.0)[:, 2], z)
    with pytest.raises(ValueError, match="at least 1"):
        variants.latent_variants(z, 0, 0.3)


def test_expansion_by_hand():
    q = np.array([[2.0, 0.0]])
    v = np.array([[[0.0, 3.0], [0.0, 1.0]]])  # both variants point along y
    np.testing.assert_allclose(variants.expand(q, v, 0.0), [[1.0, 0.0]])
    np.testing.assert_allclose(variants.expand(q, v, 1.0), [[0.0, 1.0]])
    np.testing.assert_allclose(variants.expand(q, v, 0.5), [[2 ** -0.5, 2 ** -0.5]])
    with pytest.raises(ValueError, match=r"\(n queries, m, d\)"):
        variants.expand(q, v[0], 0.5)


def test_diversity_measures_by_hand():
    same = np.tile([[1.0, 0.0, 0.0]], (1, 3, 1))
    orthogonal = np.eye(3)[None]
    np.testing.assert_allclose(variants.mean_pairwise_distance(np.concatenate([same, orthogonal])), [0.0, 1.0],
                               atol=1e-12)
    clusters = np.array([0, 0, 1, 2, 2])
    assert variants.distinct_clusters(np.array([[0, 1, 0], [0, 2, 4]]), clusters).tolist() == [1, 3]


def test_augmentations_mirror_and_shift_with_background_filling_in():
    x = np.zeros((1, 5, 5), dtype=np.uint8)
    x[0, 1, 0] = 200
    assert variants.shifted(x, True, 0, 0)[0, 1, 4] == 200
    moved = variants.shifted(x, False, 2, 0)
    assert moved[0, 1, 2] == 200 and moved.sum() == 200
    gone = variants.shifted(x, False, -2, 0)  # shifted out of the frame: nothing wraps around
    assert gone.sum() == 0
    assert variants.shifted(x, False, 0, -2).sum() == 0 and variants.shifted(x, False, 0, 2)[0, 3, 0] == 200
    assert variants.augmentation_variants(x, 8).shape == (1, 8, 5, 5)
    assert x[0, 1, 0] == 200  # the input is left alone


def test_pixel_noise_variants_are_seeded_and_stay_images():
    x = np.full((2, 4, 4), 128, dtype=np.uint8)
    a = variants.pixel_noise_variants(x, 3, 0.2, seed=1)
    assert a.shape == (2, 3, 4, 4) and a.dtype == np.uint8
    assert np.array_equal(a, variants.pixel_noise_variants(x, 3, 0.2, seed=1)) and a.std() > 20
