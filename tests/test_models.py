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


def test_maxpool2_fast_path_equals_the_kernel_and_training_keeps_its_gradient():
    pool, kernel = models.MaxPool2(), torch.nn.MaxPool2d(2)
    x = torch.relu(torch.randn(3, 4, 8, 6))  # ReLU zeros: many ties
    x[0, 0, 0, 0] = float("nan")
    with torch.no_grad():
        assert torch.equal(pool(x).isnan(), kernel(x).isnan())
        assert torch.equal(pool(x).nan_to_num(), kernel(x).nan_to_num())
    odd = torch.randn(1, 1, 5, 5)
    assert torch.equal(pool(odd), kernel(odd))  # odd sides: the kernel's floor
    x[0, 0, 0, 0] = 0.0
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    pool(a).sum().backward()
    kernel(b).sum().backward()
    assert torch.equal(a.grad, b.grad)  # a tie sends its gradient to one input, as the kernel does
    assert a.grad.sum() == 3 * 4 * 4 * 3  # one unit per pooled cell
