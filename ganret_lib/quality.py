"""Generative quality measured offline (chapter 3): a Fashion-MNIST classifier trained in the
book, the Fréchet distance between feature distributions in its penultimate layer, and
k-nearest-neighbour precision and recall (Kynkäänniemi et al. 2019).

This is *not* Inception FID: no Inception weights can be downloaded here, and distances in this
feature space are not comparable with published FID values, only with each other.
"""
from __future__ import annotations

import io
from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy import linalg
from torch import nn
from tqdm import tqdm

from .runs import atomic_write_bytes, run_dir


class SmallCNN(nn.Module):
    """1 x 32 x 32 -> 32 x 16 x 16 -> 64 x 8 x 8 -> 128 x 4 x 4 -> features (dim) -> 10 logits."""

    def __init__(self, dim: int = 128):
        super().__init__()
        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(True), nn.MaxPool2d(2)]
        self.body = nn.Sequential(*block(1, 32), *block(32, 64), *block(64, 128), nn.Flatten(),
                                  nn.Linear(128 * 4 * 4, dim), nn.ReLU(True))
        self.head = nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@dataclass
class ClassifierConfig:
    epochs: int = 2  # passes over the training images
    batch_size: int = 128
    lr: float = 1e-3  # Adam
    dim: int = 128  # feature size of the penultimate layer
    seed: int = 0


def train_classifier(images: torch.Tensor, labels: torch.Tensor, cfg: ClassifierConfig,
                     name: str = "classifier", progress: bool = True) -> SmallCNN:
    """Train (or load from runs/<name>-...) the feature network; images in [-1, 1], (N, 1, 32, 32)."""
    path = run_dir(name, asdict(cfg) | {"n": len(images)}) / "classifier.pt"
    model = SmallCNN(cfg.dim)
    if path.exists():
        try:
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return model.eval()
        except Exception as exc:
            raise RuntimeError(f"{path} is not a readable classifier checkpoint ({exc}); delete it to retrain") from exc
    torch.manual_seed(cfg.seed)
    model = SmallCNN(cfg.dim)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(cfg.seed)
    steps = cfg.epochs * (len(images) // cfg.batch_size)
    model.train()
    for step in tqdm(range(steps), desc="classifier training", disable=not progress, mininterval=2):
        if step % (len(images) // cfg.batch_size) == 0:
            order = torch.randperm(len(images), generator=g)
        k = step % (len(images) // cfg.batch_size)
        idx = order[k * cfg.batch_size:(k + 1) * cfg.batch_size]
        loss = nn.functional.cross_entropy(model(images[idx]), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return model.eval()


@torch.no_grad()
def features(model: SmallCNN, images: torch.Tensor, batch_size: int = 1000) -> np.ndarray:
    """Penultimate-layer features (N, dim) of images in [-1, 1]."""
    model.eval()
    return torch.cat([model.body(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]).numpy()


@torch.no_grad()
def accuracy(model: SmallCNN, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    model.eval()
    preds = torch.cat([model(images[i:i + batch_size]).argmax(1) for i in range(0, len(images), batch_size)])
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


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict[str, float]:
    """k-NN precision (fake samples inside the real manifold) and recall (real inside the fake one).

    Each set's manifold is the union of balls around its points reaching their k-th nearest
    neighbour in the same set (Kynkäänniemi et al. 2019).
    """
    real, fake = np.asarray(real, dtype=np.float32), np.asarray(fake, dtype=np.float32)

    def sqdist(x, y):
        return np.maximum((x * x).sum(1)[:, None] - 2 * x @ y.T + (y * y).sum(1)[None], 0)

    def radii(x):
        d = sqdist(x, x)
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    def inside(points, support, r):
        return float((sqdist(points, support) <= r[None]).any(1).mean())

    return {"precision": inside(fake, real, radii(real)), "recall": inside(real, fake, radii(fake))}
