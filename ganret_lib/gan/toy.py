"""Low-dimensional GAN experiments where densities are known (chapter 2)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..core.device import resolve_device
from . import losses


def mlp(n_in: int, n_out: int, hidden: int = 64, depth: int = 2) -> nn.Sequential:
    layers, width = [], n_in
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
        width = hidden
    return nn.Sequential(*layers, nn.Linear(width, n_out))


def ring_centers(modes: int = 8, radius: float = 2.0) -> np.ndarray:
    angles = 2 * np.pi * np.arange(modes) / modes
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], 1).astype(np.float32)


def sample_ring(n: int, generator: torch.Generator, modes: int = 8, radius: float = 2.0,
                std: float = 0.05) -> torch.Tensor:
    """n points from an equal mixture of 2-D Gaussians on a circle."""
    centers = torch.from_numpy(ring_centers(modes, radius))
    which = torch.randint(modes, (n,), generator=generator)
    return centers[which] + std * torch.randn(n, 2, generator=generator)


def ring_density(points: np.ndarray, modes: int = 8, radius: float = 2.0, std: float = 0.05) -> np.ndarray:
    """Density of `sample_ring`'s distribution at 2-D points (N, 2)."""
    sq = ((points[:, None, :] - ring_centers(modes, radius)[None]) ** 2).sum(-1)
    return np.exp(-sq / (2 * std**2)).mean(1) / (2 * np.pi * std**2)


def mode_coverage(samples: np.ndarray, centers: np.ndarray, std: float) -> dict:
    """Modes holding at least 1 % of the samples within 3 std, and the fraction of such samples."""
    dist = np.linalg.norm(samples[:, None, :] - centers[None], axis=-1)
    near = dist.min(1) < 3 * std
    counts = np.bincount(dist.argmin(1)[near], minlength=len(centers))
    return {"modes_covered": int((counts >= 0.01 * len(samples)).sum()),
            "high_quality": float(near.mean())}


def gaussian_pdf(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))


def kl_divergence(p: np.ndarray, q: np.ndarray, dx: float) -> float:
    """KL(p || q) of densities tabulated on a grid of spacing dx (0 log 0 = 0)."""
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])) * dx)


def js_divergence(p: np.ndarray, q: np.ndarray, dx: float) -> float:
    """JSD(p || q) = KL(p || m)/2 + KL(q || m)/2 with m = (p + q)/2; between 0 and log 2."""
    m = (p + q) / 2
    return 0.5 * kl_divergence(p, m, dx) + 0.5 * kl_divergence(q, m, dx)


@dataclass
class ToyGANConfig:
    data_dim: int = 2  # 1 or 2
    z_dim: int = 2  # latent size
    hidden: int = 128  # width of both MLPs
    depth: int = 3  # hidden layers of both MLPs
    lr: float = 1e-3  # Adam, both players
    betas: tuple = (0.5, 0.999)  # the usual GAN choice: less momentum than Adam's default
    batch: int = 256
    steps: int = 2000  # generator steps
    k_disc: int = 1  # discriminator steps per generator step (Algorithm 1 of Goodfellow et al.)
    g_loss: str = "non_saturating"  # or "saturating"
    seed: int = 0


def train_toy_gan(sample_real, cfg: ToyGANConfig, snapshot_every: int = 0, progress: bool = True,
                  device="cpu"):
    """Alternating SGD on the minimax game: k discriminator steps, then one generator step.

    `sample_real(n, generator)` draws real samples (on the CPU, moved to `device`; these tiny
    networks run fastest on the CPU, the default). Returns (G, D, history) where history holds
    per-step losses and D's mean output on real and fake data, and snapshots of 2,000 samples.
    """
    device = resolve_device(device)
    rng = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    G = mlp(cfg.z_dim, cfg.data_dim, cfg.hidden, cfg.depth).to(device)
    D = mlp(cfg.data_dim, 1, cfg.hidden, cfg.depth).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=cfg.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=cfg.betas)
    fixed_z = torch.randn(2000, cfg.z_dim, generator=rng).to(device)
    history = {"step": [], "d_loss": [], "g_loss": [], "d_real": [], "d_fake": [], "snapshots": {}}
    for step in tqdm(range(1, cfg.steps + 1), desc=f"toy GAN ({cfg.g_loss})", disable=not progress, mininterval=2):
        for _ in range(cfg.k_disc):
            real = sample_real(cfg.batch, rng).to(device)
            fake = G(torch.randn(cfg.batch, cfg.z_dim, generator=rng).to(device)).detach()
            real_logits, fake_logits = D(real), D(fake)
            loss_d = losses.d_loss(real_logits, fake_logits)
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        fake_logits = D(G(torch.randn(cfg.batch, cfg.z_dim, generator=rng).to(device)))
        loss_g = losses.g_loss(fake_logits, cfg.g_loss)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        history["step"].append(step)
        history["d_loss"].append(loss_d.item())
        history["g_loss"].append(loss_g.item())
        history["d_real"].append(torch.sigmoid(real_logits).mean().item())
        history["d_fake"].append(torch.sigmoid(fake_logits).mean().item())
        if snapshot_every and (step % snapshot_every == 0 or step == 1):
            with torch.no_grad():
                history["snapshots"][step] = G(fixed_z).cpu().numpy()
    return G, D, history


def fit_discriminator(sample_real, sample_fake, steps: int = 2000, batch: int = 512, hidden: int = 64,
                      lr: float = 3e-3, seed: int = 0, data_dim: int = 1, device="cpu") -> nn.Module:
    """Train D alone against a fixed generator distribution: it should approach D*."""
    device = resolve_device(device)
    rng = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    D = mlp(data_dim, 1, hidden, 2).to(device)
    opt = torch.optim.Adam(D.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)  # small final steps: less SGD noise
    for _ in range(steps):
        loss = losses.d_loss(D(sample_real(batch, rng).to(device)), D(sample_fake(batch, rng).to(device)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return D


def train_weighted_sum(sample_real, cfg: ToyGANConfig, lam: float, progress: bool = True, device="cpu"):
    """The objective of source 000 §4.1, taken literally: one optimiser over both networks
    minimising L = lam * L_G + (1 - lam) * L_D with L_G = E log D(G(z)) and
    L_D = -E log D(G(z)) - E log(1 - D(x)). Not a GAN: see chapter 2's errata section."""
    device = resolve_device(device)
    rng = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    G = mlp(cfg.z_dim, cfg.data_dim, cfg.hidden, cfg.depth).to(device)
    D = mlp(cfg.data_dim, 1, cfg.hidden, cfg.depth).to(device)
    opt = torch.optim.Adam([*G.parameters(), *D.parameters()], lr=cfg.lr, betas=cfg.betas)
    for _ in tqdm(range(cfg.steps), desc=f"weighted sum, lambda={lam}", disable=not progress, mininterval=2):
        real_logits = D(sample_real(cfg.batch, rng).to(device))
        fake_logits = D(G(torch.randn(cfg.batch, cfg.z_dim, generator=rng).to(device)))
        log_d_fake = -torch.nn.functional.softplus(-fake_logits).mean()  # E log D(G(z))
        log_1m_d_real = -torch.nn.functional.softplus(real_logits).mean()  # E log(1 - D(x))
        loss = lam * log_d_fake + (1 - lam) * (-log_d_fake - log_1m_d_real)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return G, D


# pragma: no mutate start (a drawing, read by eye in chapter 2)
def game_diagram():
    """The GAN game of chapter 2 as a block diagram: who sees what, and who wants what."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 2.8))
    ax.set(xlim=(0, 17), ylim=(0, 5.2))
    ax.set_axis_off()
    boxes = {(0.2, 1.2): "noise z ~ p_z", (3.6, 1.2): "G", (5.6, 1.2): "sample G(z) ~ p_g",
             (0.2, 4.0): "data x ~ p_data", (9.6, 2.6): "D", (11.6, 2.6): "D(.) in (0, 1):\n'it came from the data'"}
    for (x, y), text in boxes.items():
        player = text in ("G", "D")
        ax.text(x, y, text, fontsize=11 if player else 9, ha="left", va="center", weight="bold" if player else None,
                bbox=dict(boxstyle="round,pad=0.4", fc="#fde0c5" if player else "#dbe9f6", ec="#666"))
    for start, end in [((2.3, 1.2), (3.5, 1.2)), ((4.1, 1.2), (5.5, 1.2)), ((8.3, 1.4), (9.5, 2.4)),
                       ((2.5, 4.0), (9.5, 2.8)), ((10.1, 2.6), (11.5, 2.6))]:
        ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", color="#444", lw=0.9))
    ax.text(9.0, 4.7, "D maximises V: D(x) -> 1 on data, D(G(z)) -> 0", fontsize=9)
    ax.text(10.6, 0.6, "G minimises V: wants D(G(z)) -> 1;\nits gradient reaches it only through D",
            fontsize=9)
    ax.text(0.2, 0.1, "V(D, G) = E_x log D(x) + E_z log(1 - D(G(z)))", fontsize=9)
    return fig
# pragma: no mutate end
