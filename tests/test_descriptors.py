import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganret_lib import descriptors, encoders, fit, index, models, runs

CFG = models.DCGANConfig(nz=8, ngf=4, ndf=4, nc=1, image_size=32)


@pytest.fixture(autouse=True)
def deterministic():
    runs.seed_everything(0, threads=1)


def images(n=40, seed=0):
    return torch.rand(n, 1, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_layer_features_shapes_and_pooling():
    _, D = models.build_dcgan(CFG)
    x = images()
    layers = descriptors.layer_features(D.features, x, "max", batch_size=16, progress=False)
    # ndf x 16 x 16, 2 ndf x 8 x 8, 4 ndf x 4 x 4, each max-pooled to 4 x 4 cells
    assert [f.shape for f in layers] == [(40, 4 * 16), (40, 8 * 16), (40, 16 * 16)]
    first = F.leaky_relu(D.features[0](x), 0.2)
    np.testing.assert_allclose(layers[0], F.max_pool2d(first, 4).flatten(1).detach().numpy(), rtol=1e-5, atol=1e-6)
    avg = descriptors.layer_features(D.features, x, "avg", progress=False)
    np.testing.assert_allclose(avg[0], first.mean((2, 3)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_layer_features_are_deterministic_and_batch_independent():
    _, D = models.build_dcgan(CFG)
    a = descriptors.layer_features(D.features, images(), batch_size=7, progress=False)
    b = descriptors.layer_features(D.features, images(), batch_size=40, progress=False)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def test_combine_normalises_each_layer():
    layers = [np.array([[3.0, 4.0]]), np.array([[0.0, 10.0, 0.0]])]
    np.testing.assert_allclose(descriptors.combine(layers), [[0.6, 0.8, 0.0, 1.0, 0.0]])
    np.testing.assert_allclose(descriptors.combine(layers, [1]), [[0.0, 1.0, 0.0]])


def test_bad_inputs_give_clear_errors():
    _, D = models.build_dcgan(CFG)
    with pytest.raises(ValueError, match="to_gan_images"):
        descriptors.layer_features(D.features, np.zeros((2, 1, 32, 32), np.uint8))
    with pytest.raises(ValueError, match="unknown pooling"):
        descriptors.layer_features(D.features, images(), "median")


def test_encoder_code_shape():
    code = descriptors.encode(models.Encoder(CFG), images(5))
    assert code.shape == (5, CFG.nz)


def test_query_expansion_hand_computed():
    xb = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    xq = np.array([[0.6, 0.8]], np.float32)
    expected = np.array([0.6, 0.8 + 0.8]) / np.hypot(0.6, 1.6)  # q + 0.8^1 * b1
    np.testing.assert_allclose(index.query_expansion(xq, xb, k=1, alpha=1), [expected], rtol=1e-6)
    expected = np.array([0.6, 0.8 + 0.64]) / np.hypot(0.6, 1.44)  # alpha = 2 weights by 0.8^2
    np.testing.assert_allclose(index.query_expansion(xq, xb, k=1, alpha=2), [expected], rtol=1e-6)


def test_database_augmentation_hand_computed():
    xb = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], np.float32)
    out = index.database_augmentation(xb, k=1, alpha=1)
    expected = np.array([1 + 0.36, 0.48]) / np.hypot(1.36, 0.48)  # itself + 0.6 * its neighbour
    np.testing.assert_allclose(out[0], expected, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, rtol=1e-6)


def test_autoencoder_learns_and_loads(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "_toc.yml").write_text("root: x\n")
    cfg = fit.FitConfig(steps=30, batch_size=8, checkpoint_every=10, log_every=10)
    x = images(64)
    encoder = encoders.train_autoencoder("ae", CFG, cfg, x, progress=False).modules["encoder"]
    stats = [line for line in next(tmp_path.glob("runs/ae-*")).joinpath("stats.jsonl").read_text().splitlines()]
    assert len(stats) == 3
    again = encoders.train_autoencoder("ae", CFG, cfg, x, progress=False).modules["encoder"]  # loaded
    assert torch.equal(again.head.weight, encoder.head.weight)


def test_inversion_encoder_leaves_the_generator_unchanged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "_toc.yml").write_text("root: x\n")
    G, _ = models.build_dcgan(CFG)
    before = {k: v.clone() for k, v in G.state_dict().items()}
    cfg = fit.FitConfig(steps=40, batch_size=8, checkpoint_every=20, log_every=20)
    z = torch.randn(64, CFG.nz)
    with torch.no_grad():
        x = G.eval()(z)  # images G can draw exactly
    encoders.train_inversion_encoder("inv", G, CFG, cfg, x, generator_id="test", lr=1e-3, progress=False)
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())
    assert all(p.requires_grad for p in G.parameters())
    first, last = [line for line in next(tmp_path.glob("runs/inv-*")).joinpath("stats.jsonl").read_text().splitlines()]
    assert json.loads(last)["latent_mse"] < json.loads(first)["latent_mse"]
