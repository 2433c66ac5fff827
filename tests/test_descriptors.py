import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganret_lib.core import runs
from ganret_lib.core.loop import FitConfig
from ganret_lib.gan import models
from ganret_lib.methods import descriptors, encoders
from ganret_lib.retrieval import rerank

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
    with pytest.raises(ValueError, match="to_gan"):
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
    np.testing.assert_allclose(rerank.query_expansion(xq, xb, k=1, alpha=1), [expected], rtol=1e-6)
    expected = np.array([0.6, 0.8 + 0.64]) / np.hypot(0.6, 1.44)  # alpha = 2 weights by 0.8^2
    np.testing.assert_allclose(rerank.query_expansion(xq, xb, k=1, alpha=2), [expected], rtol=1e-6)


def test_database_augmentation_hand_computed():
    xb = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], np.float32)
    out = rerank.database_augmentation(xb, k=1, alpha=1)
    expected = np.array([1 + 0.36, 0.48]) / np.hypot(1.36, 0.48)  # itself + 0.6 * its neighbour
    np.testing.assert_allclose(out[0], expected, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, rtol=1e-6)


def test_autoencoder_learns_and_loads(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "_toc.yml").write_text("root: x\n")
    cfg = FitConfig(steps=30, batch_size=8, checkpoint_every=10, log_every=10)
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
    cfg = FitConfig(steps=40, batch_size=8, checkpoint_every=20, log_every=20)
    z = torch.randn(64, CFG.nz)
    with torch.no_grad():
        x = G.eval()(z)  # images G can draw exactly
    encoders.train_inversion_encoder("inv", G, CFG, cfg, x, generator_id="test", lr=1e-3, progress=False)
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())
    assert all(p.requires_grad for p in G.parameters())
    first, last = [line for line in next(tmp_path.glob("runs/inv-*")).joinpath("stats.jsonl").read_text().splitlines()]
    assert json.loads(last)["latent_mse"] < json.loads(first)["latent_mse"]


def test_raw_pixels_shape_and_range():
    images = np.array([[[0, 255], [128, 0]]] * 3, dtype=np.uint8)
    x = descriptors.raw_pixels(images)
    assert x.shape == (3, 4) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0


def test_raw_pixels_rejects_floats_and_flat_input():
    with pytest.raises(ValueError, match="uint8"):
        descriptors.raw_pixels(np.zeros((2, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        descriptors.raw_pixels(np.zeros((2, 16), dtype=np.uint8))


def test_pca_dimensions_and_error():
    rng = np.random.default_rng(0)
    xb, xq = rng.random((50, 10)), rng.random((5, 10))
    pb, pq = descriptors.pca(xb, [xb, xq], dim=3)
    assert pb.shape == (50, 3) and pq.shape == (5, 3)
    with pytest.raises(ValueError, match="between 1 and 10"):
        descriptors.pca(xb, [xb], dim=11)


def stored_images(n=30, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28)).astype(np.uint8)


def every_descriptor():
    _, D = models.build_dcgan(CFG)
    from ganret_lib.gan.quality import SmallCNN
    return {
        "pixels": descriptors.Pixels(),
        "pca of pixels": descriptors.PCA(descriptors.Pixels(), 5, seed=0),
        "whitened pca": descriptors.PCA(descriptors.Pixels(), 4, whiten=True),
        "pooled layers + pca": descriptors.PCA(descriptors.PooledLayers(D.features, CFG, layers=[1, 2]), 6),
        "pooled layers, avg": descriptors.PooledLayers(D.features, CFG, pool="avg"),
        # the DCGAN trains channels-last: a reloaded copy must compute in the same layout
        "pooled layers, channels last": descriptors.PooledLayers(
            models.build_dcgan(CFG)[1].to(memory_format=torch.channels_last).features, CFG),
        "encoder code": descriptors.EncoderCode(models.Encoder(CFG), CFG),
        "classifier features": descriptors.ClassifierFeatures(SmallCNN(16).eval()),
    }


@pytest.mark.parametrize("name", list(every_descriptor()))
def test_descriptor_save_load_round_trip_gives_the_same_vectors(tmp_path, name):
    descriptor = every_descriptor()[name]
    db, queries = stored_images(), stored_images(7, seed=1)
    before = descriptor.fit(db).transform(queries)
    path = descriptor.save(tmp_path / "d.pt")
    loaded = descriptors.load(path)
    assert type(loaded) is type(descriptor) and loaded.identity == descriptor.identity
    np.testing.assert_array_equal(loaded.transform(queries), before)
    assert before.dtype == np.float32 and len(before) == 7


def test_pca_object_matches_scikit_learn_exactly():
    from sklearn.decomposition import PCA

    x = descriptors.raw_pixels(stored_images(40))
    for whiten in (False, True):
        ours = descriptors.PCA(descriptors.Pixels(), 6, whiten=whiten).fit_transform(stored_images(40))
        theirs = PCA(6, whiten=whiten, random_state=0).fit(x).transform(x).astype(np.float32)
        np.testing.assert_array_equal(ours, theirs)


def test_gan_features_object_equals_the_chapter_4_recipe():
    _, D = models.build_dcgan(CFG)
    db, queries = stored_images(40), stored_images(9, seed=2)
    def pooled(stored):
        return descriptors.combine(descriptors.layer_features(D.features, images_of(stored), progress=False))

    by_hand = descriptors.pca(pooled(db), [pooled(queries)], 8)[0]
    obj = descriptors.PCA(descriptors.PooledLayers(D.features, CFG), 8).fit(db)
    np.testing.assert_array_equal(obj.transform(queries), by_hand)


def images_of(stored):
    from ganret_lib.data import images as im
    return im.to_gan(stored)


def test_unfitted_descriptors_and_bad_files_give_clear_errors(tmp_path):
    unfitted = descriptors.PCA(descriptors.Pixels(), 3)
    with pytest.raises(RuntimeError, match="call fit"):
        unfitted.transform(stored_images(2))
    with pytest.raises(RuntimeError, match="call fit"):
        unfitted.save(tmp_path / "x.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a descriptor")
    with pytest.raises(descriptors.DescriptorFileError, match="not a saved descriptor"):
        descriptors.load(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")  # a torch file, but not ours
    with pytest.raises(descriptors.DescriptorFileError, match="not a saved descriptor"):
        descriptors.load(tmp_path / "other.pt")
    with pytest.raises(descriptors.DescriptorFileError, match="no descriptor file"):
        descriptors.load(tmp_path / "missing.pt")


def test_recomputed_batchnorm_holds_the_data_statistics_and_leaves_the_original_alone():
    torch.manual_seed(0)
    stack = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.LeakyReLU(0.2))
    images = torch.rand(40, 1, 8, 8) * 2 - 1
    refit = descriptors.recompute_batchnorm(stack, images, batch_size=10, device="cpu")
    with torch.no_grad():
        pre = stack[0](images)  # the batch-norm layer's inputs
    torch.testing.assert_close(refit[1].running_mean, pre.mean((0, 2, 3)), rtol=1e-5, atol=1e-6)
    # torch averages the per-batch (unbiased) variances
    per_batch = torch.stack([pre[i:i + 10].var((0, 2, 3), unbiased=False) * (10 * 36) / (10 * 36 - 1)
                             for i in range(0, 40, 10)])
    torch.testing.assert_close(refit[1].running_var, per_batch.mean(0), rtol=1e-5, atol=1e-6)
    assert torch.equal(stack[1].running_mean, torch.zeros(3)) and not refit.training
    with torch.no_grad():
        normalised = refit[:2](images)  # eval mode now normalises with the data's statistics
    torch.testing.assert_close(normalised.mean((0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)


def test_the_weights_digest_names_the_weights_not_the_network():
    import copy

    from ganret_lib.gan.models import DCGANConfig, Discriminator
    from ganret_lib.methods.descriptors import weights_digest

    d = Discriminator(DCGANConfig(ngf=4, ndf=4)).features
    same = copy.deepcopy(d)
    assert weights_digest(d) == weights_digest(same)
    with torch.no_grad():
        same[0].weight[0, 0, 0, 0] += 1e-6
    assert weights_digest(d) != weights_digest(same)


def test_postprocess_is_pca_without_options_and_whitens_with_them():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(300, 6)) * [5, 3, 2, 1, 0.5, 0.1]).astype(np.float32)
    q = rng.normal(size=(10, 6)).astype(np.float32)
    plain = descriptors.postprocess(x, [q, x], 4)
    for a, b in zip(plain, descriptors.pca(x, [q, x], 4)):
        assert np.array_equal(a, b)  # the same floats: chapter 9's plain rows stay as they were
    full = descriptors.postprocess(x, [x], 4, whitening=1.0)[0]
    np.testing.assert_allclose(full.var(axis=0, ddof=1), 1.0, rtol=1e-4)  # every component unit variance
    half = descriptors.postprocess(x, [x], 4, whitening=0.5)[0]
    np.testing.assert_allclose(half.std(axis=0, ddof=1) ** 2, plain[1].std(axis=0, ddof=1), rtol=1e-4)
    # signed square roots: the sign of each entry kept, its size compressed
    y = np.array([[4.0, -9.0], [-1.0, 0.25], [0.0, 1.0]], np.float32)
    rooted_by_hand = np.array([[2.0, -3.0], [-1.0, 0.5], [0.0, 1.0]], np.float32)
    np.testing.assert_allclose(descriptors.postprocess(y, [y], 2, power=0.5)[0],
                               descriptors.pca(rooted_by_hand, [rooted_by_hand], 2)[0], atol=1e-6)


@pytest.mark.parametrize("power, whitening", [(0.0, 0.0), (-1.0, 0.0), (1.0, 1.5), (1.0, -0.1)])
def test_postprocess_rejects_bad_settings(power, whitening):
    with pytest.raises(ValueError, match="power must be positive|whitening must be between"):
        x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
        descriptors.postprocess(x, [x], 2, power, whitening)
