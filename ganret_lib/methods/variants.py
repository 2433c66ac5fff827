"""GAN-generated query variants (chapter 6): invert the query into the generator's latent space,
draw variants around the code, and expand the query's descriptor with theirs; plus the diversity
measures of a result list.

Inversion is hybrid (Zhu et al. 2016): an encoder gives the start z0 = E(q), and a few steps of
Adam on every query of a batch at once lower

    ||G(z) - q||^2 (mean over pixels)  +  prior_weight * ||z||^2 / nz,

the second term keeping z where the generator was trained (z ~ N(0, I) has ||z||^2 / nz near 1).
Variants are G(z* + sigma * eps_i), i = 1..m, with eps drawn from a seeded generator.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..core.device import map_batches, resolve_device
from ..retrieval.vectors import l2_normalise


@dataclass(frozen=True)
class InversionConfig:
    steps: int = 50  # Adam steps per batch of queries (0: the encoder's code alone)
    lr: float = 0.05  # Adam's step size on z
    prior_weight: float = 0.01  # weight of ||z||^2 / nz
    batch_size: int = 500  # queries refined together


def reconstruction_error(generator, z: torch.Tensor, x: torch.Tensor, device="auto") -> torch.Tensor:
    """Per query: mean squared pixel error of G(z) against x (both in the GAN's [-1, 1] range)."""
    generator.eval().to(resolve_device(device))
    return ((map_batches(generator, z, 500, device) - x) ** 2).flatten(1).mean(1)


def refine(generator, x: torch.Tensor, z0: torch.Tensor, config: InversionConfig = InversionConfig(),
           device="auto") -> torch.Tensor:
    """z* for each image of x, from the start codes z0 (see the module's loss); G stays frozen."""
    device = resolve_device(device)
    generator = generator.eval().to(device)
    out = []
    generator.requires_grad_(False)
    try:
        for lo in range(0, len(x), config.batch_size):
            target = x[lo:lo + config.batch_size].to(device)
            z = z0[lo:lo + config.batch_size].clone().to(device).requires_grad_(True)
            opt = torch.optim.Adam([z], lr=config.lr)
            for _ in range(config.steps):
                # summed over queries: each z gets the gradient of its own loss, whatever the batch
                loss = (F.mse_loss(generator(z), target, reduction="none").flatten(1).mean(1)
                        + config.prior_weight * (z.flatten(1) ** 2).mean(1)).sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            out.append(z.detach().cpu())
    finally:
        generator.requires_grad_(True)
    return torch.cat(out)


def latent_variants(z: torch.Tensor, m: int, sigma: float, seed: int = 0) -> torch.Tensor:
    """(n, m, *z.shape[1:]) codes z + sigma * eps, eps ~ N(0, I) from a generator seeded by `seed`."""
    if m < 1:
        raise ValueError(f"m (variants per query) must be at least 1, got {m}")
    g = torch.Generator().manual_seed(seed)
    eps = torch.randn((len(z), m, *z.shape[1:]), generator=g)
    return z.unsqueeze(1) + sigma * eps


def expand(query: np.ndarray, variants: np.ndarray, weight: float) -> np.ndarray:
    """The expanded query descriptor: normalised (1 - weight) n(d(q)) + weight * mean_i n(d(x_i)).

    `query` is (n, d), `variants` (n, m, d); weight 0 is the query alone, 1 the variants alone."""
    if not 0 <= weight <= 1:
        raise ValueError(f"the variants' weight must lie in [0, 1], got {weight}")
    if variants.ndim != 3 or variants.shape[0] != len(query) or variants.shape[2] != query.shape[1]:
        raise ValueError(f"variants must be (n queries, m, d) = ({len(query)}, m, {query.shape[1]}), "
                         f"got {variants.shape}")
    n, m, d = variants.shape
    mean = l2_normalise(variants.reshape(n * m, d)).reshape(n, m, d).mean(1)
    return l2_normalise((1 - weight) * l2_normalise(query) + weight * mean)


def mean_pairwise_distance(vectors: np.ndarray) -> np.ndarray:
    """Diversity of each result list: the mean cosine distance between its items' descriptors.

    `vectors` is (n lists, k items, d); returns n values in [0, 2]."""
    v = l2_normalise(vectors.reshape(-1, vectors.shape[-1])).reshape(vectors.shape)
    k = v.shape[1]
    if k < 2:
        raise ValueError("a list needs at least 2 items to have pairwise distances")
    sims = np.einsum("nid,njd->n", v, v)  # sum over all ordered pairs, the diagonal included
    return 1.0 - (sims - k) / (k * (k - 1))


def distinct_clusters(ids: np.ndarray, cluster_of: np.ndarray) -> np.ndarray:
    """Diversity of each result list: how many distinct clusters (of a fixed clustering of the
    database, e.g. k-means) its items fall in. `ids` is (n lists, k) database positions."""
    labels = np.sort(np.asarray(cluster_of)[np.asarray(ids)], axis=1)
    return 1 + (np.diff(labels, axis=1) != 0).sum(axis=1)


# Test-time augmentation of Fashion-MNIST garments: a mirror image, and shifts by 2 pixels
TTA = [(True, 0, 0), (False, 2, 0), (False, -2, 0), (False, 0, 2), (False, 0, -2),
       (True, 2, 0), (True, -2, 0), (True, 0, 2)]  # (flip left-right, shift right, shift down)


def shifted(stored: np.ndarray, flip: bool, dx: int, dy: int) -> np.ndarray:
    """Stored images mirrored (if asked) and shifted by (dx, dy) pixels, background filling in."""
    out = stored[:, :, ::-1] if flip else stored
    out = np.roll(out, (dy, dx), axis=(1, 2))
    if dy:
        out[:, slice(0, dy) if dy > 0 else slice(dy, None)] = 0
    if dx:
        out[:, :, slice(0, dx) if dx > 0 else slice(dx, None)] = 0
    return np.ascontiguousarray(out)


def augmentation_variants(stored: np.ndarray, m: int) -> np.ndarray:
    """(n, m, H, W): the first m test-time augmentations (`TTA`) of each stored image."""
    if not 1 <= m <= len(TTA):
        raise ValueError(f"m must be between 1 and {len(TTA)} augmentations, got {m}")
    return np.stack([shifted(stored, *t) for t in TTA[:m]], axis=1)


def pixel_noise_variants(stored: np.ndarray, m: int, sigma: float, seed: int = 0) -> np.ndarray:
    """(n, m, H, W): each stored image plus Gaussian pixel noise of `sigma` (on a 0-1 scale), clipped."""
    rng = np.random.default_rng(seed)
    noisy = stored[:, None].astype(np.float64) / 255 + sigma * rng.standard_normal((len(stored), m, *stored.shape[1:]))
    return np.round(np.clip(noisy, 0, 1) * 255).astype(np.uint8)
