"""Generative quality measured offline (chapter 3): a Fashion-MNIST classifier trained in the
book, the Fréchet distance between feature distributions in its penultimate layer, and
k-nearest-neighbour precision and recall (Kynkäänniemi et al. 2019).

This is *not* Inception FID: no Inception weights can be downloaded here, and distances in this
feature space are not comparable with published FID values, only with each other.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy import linalg
from torch import nn

from ..core.device import map_batches, resolve_device
from ..core.loop import FitConfig, Fitter, fit_or_load
from ..data import degrade
from ..data import images as images_
from .models import MaxPool2


class SmallCNN(nn.Module):
    """C x S x S -> 32 x S/2 -> 64 x S/4 -> 128 x S/8 -> features (dim) -> class logits."""

    def __init__(self, dim: int = 128, channels: int = 1, image_size: int = 32, n_classes: int = 10):
        super().__init__()
        self.config = {"dim": dim, "channels": channels, "image_size": image_size, "n_classes": n_classes}

        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(True), MaxPool2()]
        side = image_size // 8
        self.body = nn.Sequential(*block(channels, 32), *block(32, 64), *block(64, 128), nn.Flatten(),
                                  nn.Linear(128 * side * side, dim), nn.ReLU(True))
        self.head = nn.Linear(dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@dataclass
class ClassifierConfig:
    epochs: float = 2  # passes over the training images (a fraction: that share of one pass)
    batch_size: int = 128
    lr: float = 1e-3  # Adam
    dim: int = 128  # feature size of the penultimate layer
    seed: int = 0


def sequential_permutations(n_items: int, seed: int):
    """Epoch e's order = the (e+1)-th permutation drawn from one generator seeded by `seed`: the
    classifier's historical batch order, kept so that its numbers in the book stay identical."""
    def permutation(epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        for _ in range(epoch):
            torch.randperm(n_items, generator=g)
        return torch.randperm(n_items, generator=g)
    return permutation


def degrade_share(x: torch.Tensor, generator: torch.Generator, kinds: tuple, share: float,
                  shape: tuple[int, int] | None = None) -> torch.Tensor:
    """A copy of gan-form images in which each image, with probability `share`, is degraded by a
    random kind of `kinds` at a random severity (data augmentation with chapter 5's degradations).

    `shape` (H, W) is the stored images' size: the padding is cropped before degrading and put
    back after, as it is for a degraded query."""
    chosen = torch.rand(len(x), generator=generator) < share
    out = x.clone()
    if chosen.any():
        unit = images_.gan_to_unit(x[chosen], shape)
        out[chosen] = images_.unit_to_gan(degrade.random_seen_degradation(unit, generator, kinds), x.shape[-1])
    return out


def train_classifier(name: str, images: torch.Tensor, labels: torch.Tensor, cfg: ClassifierConfig,
                     device="auto", progress: bool = True, degradations: tuple = (),
                     degraded_share: float = 0.5, stored_shape: tuple[int, int] | None = None) -> Fitter:
    """Train (or load from runs/<name>-...) the classifier on gan-form images (N, C, S, S) with
    labels. `.modules["classifier"]`, `.run_dir`.

    `degradations` (kinds of `data.degrade`) trains it with those degradations as augmentation:
    each image of a batch is degraded with probability `degraded_share` (chapter 5's robust F);
    `stored_shape` is the images' size before padding (see `degrade_share`).
    """
    device = resolve_device(device)
    torch.manual_seed(cfg.seed)
    model = SmallCNN(cfg.dim, images.shape[1], images.shape[-1], int(labels.max()) + 1).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    stored_images = images  # on the CPU, where the degradations draw from the step's generator
    images, labels = images.to(device), labels.to(device)

    def step(_, idx, g):
        batch = images[idx.to(device)]
        if degradations:
            batch = degrade_share(stored_images[idx], g, degradations, degraded_share, stored_shape).to(device)
        loss = nn.functional.cross_entropy(model(batch), labels[idx.to(device)])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.detach()}

    steps = max(1, round(cfg.epochs * (len(images) // cfg.batch_size)))
    fit_cfg = FitConfig(steps=steps, batch_size=cfg.batch_size, log_every=50, seed=cfg.seed)
    configs = {"classifier": asdict(cfg), "shape": list(images.shape[1:])}
    if degradations:  # absent otherwise, so that plain classifiers keep their run directories
        configs["augmentation"] = {"degradations": list(degradations), "share": degraded_share}
    return fit_or_load(name, {"classifier": model}, {"adam": opt}, step, len(images), fit_cfg, configs,
                       progress=progress, permutation=sequential_permutations(len(images), cfg.seed))


def features(model: SmallCNN, images: torch.Tensor, batch_size: int = 1000, device="auto") -> np.ndarray:
    """Penultimate-layer features (N, dim) of gan-form images."""
    model.eval().to(resolve_device(device))
    return map_batches(model.body, images, batch_size, device).numpy()


def accuracy(model: SmallCNN, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000,
             device="auto") -> float:
    model.eval().to(resolve_device(device))
    preds = map_batches(lambda x: model(x).argmax(1), images, batch_size, device)
    return float((preds == labels).float().mean())


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussians fitted to two feature sets."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"need two feature sets (N, d) with the same d and N >= 2, got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # ReLU features can have dead units (singular covariances): a tiny ridge keeps sqrtm stable
    cov_a, cov_b = cov_a + 1e-6 * np.eye(len(cov_a)), cov_b + 1e-6 * np.eye(len(cov_b))
    root = linalg.sqrtm(cov_a @ cov_b).real  # imaginary parts are rounding noise
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def _sqdist(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.maximum((x * x).sum(1)[:, None] - 2 * x @ y.T + (y * y).sum(1)[None], 0)


def _knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each point to its k-th nearest neighbour in the same set."""
    return np.sort(_sqdist(x, x), axis=1)[:, k]  # column 0 is the point itself


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict[str, float]:
    """k-NN precision (fake samples inside the real manifold) and recall (real inside the fake one).

    Each set's manifold is the union of balls around its points reaching their k-th nearest
    neighbour in the same set (Kynkäänniemi et al. 2019). One real outlier with a large ball
    can hold every fake sample: a collapsed generator can score precision 1 (see
    `density_coverage`).
    """
    real, fake = np.asarray(real, dtype=np.float32), np.asarray(fake, dtype=np.float32)

    def inside(points, support, r):
        return float((_sqdist(points, support) <= r[None]).any(1).mean())

    return {"precision": inside(fake, real, _knn_radii(real, k)), "recall": inside(real, fake, _knn_radii(fake, k))}


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """Density and coverage (Naeem et al. 2020), built on the real samples' k-NN balls only.

    density = (1 / (k M)) sum_j #{real balls containing fake_j}: about 1 for a generator that
    matches the data, far below 1 when fake samples sit in few, large balls (outliers), above 1
    when they crowd dense regions; coverage = share of real balls that contain at least one
    fake sample. Neither trusts the fake samples' own neighbourhoods, which is what lets
    precision and recall be fooled by outliers.
    """
    real, fake = np.asarray(real, dtype=np.float32), np.asarray(fake, dtype=np.float32)
    within = _sqdist(fake, real) <= _knn_radii(real, k)[None]  # (fake, real)
    return {"density": float(within.sum() / (k * len(fake))), "coverage": float(within.any(0).mean())}
