import numpy as np
import pytest
import torch

from ganret_lib.data import images


def test_conversions_hand_computed():
    stored = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)  # (1, 2, 2)
    unit = images.to_unit(stored)
    assert unit.shape == (1, 1, 2, 2) and unit.dtype == torch.float32
    torch.testing.assert_close(unit[0, 0], torch.tensor([[0.0, 1.0], [0.2, 0.4]]))
    gan = images.unit_to_gan(unit, size=4)  # padded by one background pixel each side
    assert gan.shape == (1, 1, 4, 4) and gan[0, 0, 0, 0] == -1
    torch.testing.assert_close(gan[0, 0, 1:3, 1:3], torch.tensor([[-1.0, 1.0], [-0.6, -0.2]]))


def test_fashion_mnist_sizes_pad_28_to_32_and_round_trip_exactly():
    stored = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    gan = images.to_gan(stored)
    assert gan.shape == (5, 1, 32, 32) and gan.min() >= -1 and gan.max() <= 1
    np.testing.assert_array_equal(images.gan_to_stored(gan, (28, 28)), stored)
    np.testing.assert_array_equal(images.unit_to_stored(images.to_unit(stored)), stored)
    shown = images.for_display(gan, (28, 28))
    np.testing.assert_allclose(shown, stored / 255.0, atol=1e-6)


def test_both_historical_formulas_give_the_same_floats():
    # x / 127.5 - 1 (the DCGAN's) and (x / 255) * 2 - 1 (AFA-SVR's) agree on every uint8 value
    values = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    direct = torch.from_numpy(values.astype(np.float32) / 127.5 - 1.0)
    torch.testing.assert_close(images.to_gan(values, size=16)[0, 0], direct[0], rtol=0, atol=0)


def test_channels_come_from_the_data():
    rgb = np.zeros((2, 28, 28, 3), dtype=np.uint8)
    rgb[..., 1] = 255
    gan = images.to_gan(rgb)
    assert gan.shape == (2, 3, 32, 32) and gan[0, 1, 16, 16] == 1 and gan[0, 0, 16, 16] == -1
    np.testing.assert_array_equal(images.gan_to_stored(gan, (28, 28)), rgb)
    assert images.gan_size(28) == 32 and images.gan_size(32) == 32 and images.gan_size(33) == 64


def test_bad_images_get_clear_errors():
    with pytest.raises(ValueError, match="uint8"):
        images.to_unit(np.zeros((2, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        images.to_unit(np.zeros((2, 784), dtype=np.uint8))
    with pytest.raises(ValueError, match="evenly"):
        images.unit_to_gan(torch.zeros(1, 1, 27, 27), size=32)


def test_non_square_colour_images_round_trip_and_display():
    rgb = np.random.default_rng(1).integers(0, 256, (3, 28, 20, 3)).astype(np.uint8)  # H != W
    gan = images.to_gan(rgb)
    assert gan.shape == (3, 3, 32, 32)
    assert (gan[..., :, :6] == -1).all() and (gan[..., :2, :] == -1).all()  # 6 | 20 | 6 and 2 | 28 | 2
    np.testing.assert_array_equal(images.gan_to_stored(gan, (28, 20)), rgb)
    shown = images.for_display(gan, (28, 20))
    assert shown.shape == (3, 28, 20, 3)
    np.testing.assert_allclose(shown, rgb / 255.0, atol=1e-6)


def test_an_explicit_size_is_kept_and_odd_padding_is_refused_on_either_side():
    assert images.to_gan(np.zeros((1, 28, 28), np.uint8), size=64).shape == (1, 1, 64, 64)
    assert images.gan_size(4) == 4 and images.gan_size(5) == 8
    for h, w in [(28, 27), (27, 28)]:  # one side pads evenly, the other does not
        with pytest.raises(ValueError, match="evenly"):
            images.unit_to_gan(torch.zeros(1, 1, h, w), size=32)


def test_values_outside_the_unit_range_are_clipped_when_stored():
    x = torch.tensor([-0.2, 0.0, 0.5, 1.0, 1.3]).reshape(1, 1, 1, 5)
    assert images.unit_to_stored(x).tolist() == [[[0, 0, 128, 255, 255]]]


def test_error_messages_name_the_array_and_the_fix():
    with pytest.raises(ValueError, match=r"images must be uint8 .* \(x \* 255\)\.round\(\)\.astype\(np\.uint8\)"):
        images.check_stored(np.zeros((1, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"^queries must have shape"):
        images.check_stored(np.zeros((2, 2), np.uint8), name="queries")
