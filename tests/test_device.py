import pytest
import torch

from ganret_lib.core import device
from ganret_lib.gan import quality, unet
from ganret_lib.methods import afa, descriptors


def test_auto_is_cuda_when_available_else_cpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert device.resolve_device("auto").type == expected
    assert device.resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_asking_for_cuda_without_it_is_a_clear_error():
    with pytest.raises(ValueError, match="CUDA is not available"):
        device.resolve_device("cuda")


def test_map_batches_equals_one_pass_and_returns_cpu_tensors():
    x = torch.randn(10, 3)
    out = device.map_batches(lambda t: t * 2, x, batch_size=3, device="cpu")
    assert out.device.type == "cpu" and torch.equal(out, x * 2)


def test_device_argument_reaches_every_inference_function():
    stored = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8).numpy()
    model = quality.SmallCNN(8)
    for dev in ("cpu", "auto"):
        feats, post = afa.features_and_posteriors(model, stored, device=dev)
        assert feats.shape == (4, 8) and post.shape == (4, 10)
        assert afa.restore(unet.UNet(4), stored, device=dev).shape == (4, 28, 28)
        assert descriptors.ClassifierFeatures(model, device=dev).transform(stored).shape == (4, 8)


def test_describe_names_the_device_a_chapter_uses():
    assert device.describe("cpu") == f"cpu ({torch.get_num_threads()} threads)"
    if torch.cuda.is_available():
        assert device.describe("auto").startswith("cuda:0 (")
    else:
        assert device.describe("auto").startswith("cpu (")
