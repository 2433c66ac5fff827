import numpy as np
import pytest
import torch

from ganret_lib.data import degrade, fashion_mnist


@pytest.fixture(scope="module")
def images():
    x, _ = fashion_mnist.load_fashion_mnist("test")
    return x[:64]


@pytest.mark.parametrize("kind", degrade.KINDS)
def test_shape_range_determinism_and_severity_order(images, kind):
    errors = []
    for severity in (1, 2, 3):
        out = degrade.degrade_stored(images, kind, severity, seed=3)
        assert out.shape == images.shape and out.dtype == np.uint8
        np.testing.assert_array_equal(out, degrade.degrade_stored(images, kind, severity, seed=3))
        errors.append(np.abs(out.astype(float) - images).mean())
    assert 0 < errors[0] < errors[1] < errors[2], errors  # stronger levels change the image more


def test_seeds_change_random_degradations(images):
    a = degrade.degrade_stored(images, "noise", 2, seed=0)
    assert not np.array_equal(a, degrade.degrade_stored(images, "noise", 2, seed=1))


def test_occlusion_is_one_grey_square(images):
    out = degrade.degrade_stored(images, "occlusion", 2, seed=0).astype(int)
    changed = (out == 128) | (out == 127)
    side = degrade.LEVELS["occlusion"][1]
    assert all(c.sum() >= side * side for c in changed)  # the square, plus any grey pixels already there


def test_blur_keeps_constant_images_and_mean():
    flat = torch.full((2, 1, 28, 28), 0.3)
    torch.testing.assert_close(degrade.degrade(flat, "blur", 3, None), flat)


def test_training_mix_uses_only_the_given_kinds():
    x = torch.rand(200, 1, 28, 28)
    g = torch.Generator().manual_seed(0)
    out = degrade.random_seen_degradation(x, g, kinds=("blur",))
    assert out.shape == x.shape and not torch.equal(out, x)
    assert set(degrade.SEEN).isdisjoint(degrade.HELD_OUT)


def test_bad_inputs(images):
    with pytest.raises(ValueError, match="unknown degradation"):
        degrade.degrade_stored(images, "rain", 1)
    with pytest.raises(ValueError, match="severity"):
        degrade.degrade_stored(images, "blur", 4)
    with pytest.raises(ValueError, match="uint8"):
        degrade.degrade_stored(images.astype(float), "blur", 1)
