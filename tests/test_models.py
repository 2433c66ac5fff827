import pytest
import torch

from ganret_lib.gan import models


@pytest.mark.parametrize("size, nc", [(32, 1), (64, 3)])
def test_shapes(size, nc):
    cfg = models.DCGANConfig(nz=16, ngf=8, ndf=8, nc=nc, image_size=size)
    G, D = models.build_dcgan(cfg)
    x = G(torch.randn(5, 16))
    assert x.shape == (5, nc, size, size)
    assert x.min() >= -1 and x.max() <= 1
    assert D(x).shape == (5,)
    assert D.features(x).shape == (5, 8 * 2 ** (cfg.n_stages - 1), 4, 4)


def test_canonical_parameter_counts():
    # pytorch/examples dcgan at 64x64, nz=100, ngf=ndf=64, nc=3: 3,576,704 and 2,765,568 parameters
    G, D = models.build_dcgan(models.DCGANConfig(nc=3, image_size=64))
    assert models.n_parameters(G) == 3576704
    assert models.n_parameters(D) == 2765568


def test_initialisation_and_seed():
    G1, _ = models.build_dcgan(models.DCGANConfig(), seed=1)
    G2, _ = models.build_dcgan(models.DCGANConfig(), seed=1)
    w = G1.net[0].weight
    assert abs(w.std().item() - 0.02) < 0.002 and abs(w.mean().item()) < 0.002
    assert torch.equal(w, G2.net[0].weight)


def test_unsupported_size():
    with pytest.raises(ValueError, match="32 or 64"):
        models.DCGANConfig(image_size=28)
