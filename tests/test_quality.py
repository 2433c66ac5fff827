import numpy as np
import pytest
import torch

from ganret_lib.gan import quality


def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20000, 3))
    assert quality.frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    shift = np.array([1.0, 2.0, 0.0])
    b = rng.normal(size=(20000, 3)) + shift
    assert quality.frechet_distance(a, b) == pytest.approx(5.0, abs=0.1)  # ||mu||^2, same covariance
    c = rng.normal(size=(20000, 3)) * 2  # N(0, 4I) vs N(0, I): 3 * (1 + 4 - 2*2) = 3
    assert quality.frechet_distance(a, c) == pytest.approx(3.0, abs=0.15)
    with pytest.raises(ValueError, match="same d"):
        quality.frechet_distance(a, c[:, :2])


def test_precision_recall_extremes():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(500, 4))
    same = quality.precision_recall(real, real + 1e-6)
    assert same["precision"] == 1.0 and same["recall"] == 1.0
    far = quality.precision_recall(real, rng.normal(size=(500, 4)) + 100)
    assert far["precision"] == 0.0 and far["recall"] == 0.0
    collapsed = quality.precision_recall(real, np.zeros((500, 4)) + rng.normal(size=(500, 4)) * 0.01)
    assert collapsed["precision"] == 1.0 and collapsed["recall"] < 0.2  # good samples, no diversity


def test_precision_recall_equals_a_brute_force_reference():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(60, 3)), rng.normal(size=(50, 3)) * 1.5 + 0.5
    k = 3

    def reference(support, points):  # balls to each support point's k-th nearest other point
        d_support = np.linalg.norm(support[:, None] - support[None], axis=-1)
        radius = np.sort(d_support, axis=1)[:, k]  # column 0 is the point itself
        d = np.linalg.norm(points[:, None] - support[None], axis=-1)
        return float((d <= radius[None]).any(1).mean())

    ours = quality.precision_recall(real, fake, k=k)
    assert ours["precision"] == pytest.approx(reference(real, fake))
    assert ours["recall"] == pytest.approx(reference(fake, real))
    assert 0 < ours["precision"] < 1 and 0 < ours["recall"] < 1  # not a degenerate case


def test_density_and_coverage_hand_computed():
    # real points on a line at 0, 1, 2, 10; k = 1: radii 1, 1, 1, 8 (10's nearest is 2).
    # Fake 0.5 lies in the balls of 0 and 1; fake 6.0 only in the ball of 10.
    real = np.array([[0.0], [1.0], [2.0], [10.0]])
    fake = np.array([[0.5], [6.0]])
    out = quality.density_coverage(real, fake, k=1)
    assert out["density"] == pytest.approx((2 + 1) / (1 * 2))
    assert out["coverage"] == pytest.approx(3 / 4)  # balls of 0, 1 and 10 hold a fake point


def test_density_and_coverage_are_not_fooled_by_a_collapsed_generator():
    """One far real outlier has a ball that holds a collapsed generator's samples: precision
    calls them all good, while density and coverage show they are neither typical nor diverse."""
    rng = np.random.default_rng(0)
    real = np.vstack([rng.normal(size=(499, 2)), [[30.0, 0.0]]])
    collapsed = np.array([[20.0, 0.0]]) + rng.normal(size=(300, 2)) * 0.01
    assert quality.precision_recall(real, collapsed, k=5)["precision"] == 1.0
    out = quality.density_coverage(real, collapsed, k=5)
    assert out["density"] == pytest.approx(1 / 5) and out["coverage"] == pytest.approx(1 / 500)
    matched = quality.density_coverage(real[:499], rng.normal(size=(2000, 2)), k=5)
    assert 0.8 < matched["density"] < 1.2 and matched["coverage"] > 0.95


def tiny_labelled_project(tmp_path, monkeypatch, n: int):
    """A project folder to train in, n random gan-form images with labels, a one-epoch config."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "_toc.yml").write_text("root: x\n")
    x = torch.rand(n, 1, 32, 32) * 2 - 1
    y = torch.randint(0, 10, (n,))
    return x, y, quality.ClassifierConfig(epochs=1, batch_size=64, dim=16)


def test_classifier_shapes_and_training_runs(tmp_path, monkeypatch):
    x, y, cfg = tiny_labelled_project(tmp_path, monkeypatch, 256)
    first = quality.train_classifier("clf", x, y, cfg, device="cpu", progress=False)
    model = first.modules["classifier"]
    assert first.step == 4 and quality.features(model, x[:10]).shape == (10, 16)
    again = quality.train_classifier("clf", x, y, cfg, progress=False)  # loaded, not retrained
    assert again.run_dir == first.run_dir
    assert torch.equal(again.modules["classifier"].head.weight, model.head.weight)


def test_classifier_batch_order_is_sequential_draws_from_one_generator():
    perms = quality.sequential_permutations(10, seed=3)
    g = torch.Generator().manual_seed(3)
    first, second = torch.randperm(10, generator=g), torch.randperm(10, generator=g)
    assert torch.equal(perms(0), first) and torch.equal(perms(1), second)


def test_classifier_takes_channels_and_size_from_its_arguments():
    model = quality.SmallCNN(dim=8, channels=3, image_size=64, n_classes=4)
    assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 4)


class BrightIsOne(torch.nn.Module):
    """Predicts class 1 for images brighter than 0 on average, else class 0."""

    def forward(self, x):
        bright = (x.mean((1, 2, 3)) > 0).float()
        return torch.stack([1 - bright, bright], 1)


def test_accuracy_counts_correct_predictions_in_batches():
    x = torch.tensor([-1.0, 1.0, 1.0, -1.0, 1.0]).view(5, 1, 1, 1).expand(5, 1, 4, 4)
    y = torch.tensor([0, 1, 0, 0, 1])  # the third is wrong
    assert quality.accuracy(BrightIsOne(), x, y, batch_size=2) == pytest.approx(0.8)


def test_degrade_share_degrades_about_that_share_inside_the_padding():
    x = torch.full((400, 1, 32, 32), -1.0)
    x[:, :, 2:30, 2:30] = 0.6  # a 28 x 28 image padded with background, as to_gan does
    g = torch.Generator().manual_seed(0)
    assert torch.equal(quality.degrade_share(x, g, ("noise",), 0.0, (28, 28)), x)
    out = quality.degrade_share(x, g, ("noise",), 0.5, (28, 28))
    changed = (out != x).flatten(1).any(1)
    assert 150 < changed.sum() < 250
    assert torch.equal(out[:, :, :2], x[:, :, :2]) and torch.equal(out[:, :, :, 30:], x[:, :, :, 30:])


def test_an_augmented_classifier_gets_its_own_run_and_the_plain_one_keeps_its_own(tmp_path, monkeypatch):
    x, y, cfg = tiny_labelled_project(tmp_path, monkeypatch, 128)
    plain = quality.train_classifier("clf", x, y, cfg, progress=False)
    augmented = quality.train_classifier("clf", x, y, cfg, progress=False, degradations=("blur",))
    assert augmented.run_dir != plain.run_dir
    assert "augmentation" in (augmented.run_dir / "config.json").read_text()
    assert "augmentation" not in (plain.run_dir / "config.json").read_text()
    trained = [m.modules["classifier"].head.weight for m in (plain, augmented)]
    assert not torch.equal(*trained)  # the degraded batches changed the training
