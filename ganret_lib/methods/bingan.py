"""A GAN trained to hash (chapter 8): a DCGAN whose discriminator carries binary heads, with
BinGAN's kind of regularisers (Zieba et al. 2018), trained from scratch without labels.

D's features h(x) (its last 4 x 4 feature map, flattened) feed its real/fake logit and, for each
code length K, a head b_K(x) = tanh(W_K h(x)); the code is sign(b_K(x)). D minimises its GAN loss
plus, on the batch of real images and for each head (`hashing_regularisers`):
- distance matching: the mean over pairs i != j of (cos(h_i, h_j) - b_i . b_j / K)^2, so that
  Hamming distances, 1 - b_i . b_j / K up to a factor, follow the angles of D's feature space;
- bit balance: the mean over bits of (mean over the batch of b_k)^2: each bit set for half the
  images;
- bit decorrelation: the mean over pairs of bits k != l of (mean over the batch of b_k b_l)^2;
- quantisation: the mean of (1 - |b|)^2, so that tanh's outputs sit near -1 and +1 and the sign
  loses little.
The last three are what BinGAN's entropy regulariser asks of the bits (balanced, independent).
G minimises the non-saturating loss, as chapter 3's DCGAN does. The random-weight control of
chapter 8 is the same network, untrained.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.device import map_batches, resolve_device
from ..core.loop import FitConfig, Fitter, fit_or_load
from ..data import images as im
from ..gan import losses, models


class HashingDiscriminator(nn.Module):
    """DCGAN's discriminator (`gan.models.Discriminator`) with one binary head per code length."""

    def __init__(self, cfg: models.DCGANConfig, bits: tuple = (16, 32, 64)):
        super().__init__()
        base = models.Discriminator(cfg)
        self.features, self.head = base.features, base.head
        width = self.head.in_channels * 4 * 4  # the flattened 4 x 4 feature map
        self.codes = nn.ModuleDict({str(k): nn.Linear(width, k) for k in bits})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).view(-1)

    def embed_and_relax(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """(logits, features h, {K: tanh(W_K h)}) of one forward pass."""
        maps = self.features(x)
        h = maps.flatten(1)
        return self.head(maps).view(-1), h, {int(k): torch.tanh(head(h)) for k, head in self.codes.items()}


@dataclass
class BinGANConfig:
    bits: tuple = (16, 32, 64)  # one head per code length, trained together
    distance_weight: float = 1.0
    balance_weight: float = 1.0
    decorrelation_weight: float = 1.0
    quantisation_weight: float = 0.1
    lr: float = 2e-4  # Adam, both players, as chapter 3's DCGAN
    beta1: float = 0.5


def hashing_regularisers(h: torch.Tensor, b: torch.Tensor) -> dict:
    """The four regularisers of one head (see the module's docstring) on a batch: features h
    (n, d) and relaxed codes b (n, K) in (-1, 1)."""
    n, k = b.shape
    off = ~torch.eye(n, dtype=torch.bool, device=b.device)
    h_unit = F.normalize(h, dim=1)
    distance = ((h_unit @ h_unit.T - b @ b.T / k)[off] ** 2).mean()
    balance = (b.mean(0) ** 2).mean()
    correlation = b.T @ b / n
    decorrelation = (correlation[~torch.eye(k, dtype=torch.bool, device=b.device)] ** 2).mean()
    quantisation = ((1 - b.abs()) ** 2).mean()
    return {"distance": distance, "balance": balance, "decorrelation": decorrelation,
            "quantisation": quantisation}


def bingan_step(G, D: HashingDiscriminator, opt_g, opt_d, real: torch.Tensor, z: torch.Tensor,
                cfg: BinGANConfig) -> dict:
    """One step: D on its GAN loss plus the weighted regularisers of every head, then G."""
    fake = G(z)
    real_logits, h, relaxed = D.embed_and_relax(real)
    loss_d = losses.d_loss(real_logits, D(fake.detach()))
    weights = {"distance": cfg.distance_weight, "balance": cfg.balance_weight,
               "decorrelation": cfg.decorrelation_weight, "quantisation": cfg.quantisation_weight}
    totals = dict.fromkeys(weights, 0.0)
    for b in relaxed.values():
        for name, value in hashing_regularisers(h, b).items():
            totals[name] = totals[name] + value / len(relaxed)  # the mean over heads
    loss = loss_d + sum(weights[name] * value for name, value in totals.items())
    opt_d.zero_grad(set_to_none=True)
    loss.backward()
    opt_d.step()
    loss_g = losses.g_loss(D(fake), "non_saturating")
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return {"d_loss": loss_d.detach(), "g_loss": loss_g.detach()} | {k: v.detach() for k, v in totals.items()}


def build(model_cfg: models.DCGANConfig, cfg: BinGANConfig, seed: int = 0):
    """(G, D) freshly initialised as DCGAN's (the heads keep PyTorch's default initialisation)."""
    torch.manual_seed(seed)
    G, D = models.Generator(model_cfg), HashingDiscriminator(model_cfg, cfg.bits)
    G.apply(models.init_weights)
    D.apply(models.init_weights)
    return G, D


def train_hashing_gan(name: str, model_cfg: models.DCGANConfig, cfg: BinGANConfig, fit_cfg: FitConfig,
                      stored: np.ndarray, data_id: str, device="auto", progress: bool = True,
                      until: int | None = None) -> Fitter:
    """Train (or load) the hashing GAN on stored uint8 images; `data_id` names them (part of the
    run's identity); `until` stops (or resumes) at that step. `.modules["D"]` is the
    HashingDiscriminator."""
    device = resolve_device(device)
    G, D = build(model_cfg, cfg, fit_cfg.seed)
    G, D = G.to(device), D.to(device)
    x = im.to_gan(stored)
    betas = (cfg.beta1, 0.999)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=betas)

    def step(_, idx, g):
        z = torch.randn(len(idx), model_cfg.nz, generator=g)
        return bingan_step(G, D, opt_g, opt_d, x[idx].to(device), z.to(device), cfg)

    configs = {"model": asdict(model_cfg), "bingan": asdict(cfg), "data": data_id}
    return fit_or_load(name, {"G": G, "D": D}, {"adam_g": opt_g, "adam_d": opt_d}, step, len(x), fit_cfg,
                       configs, progress=progress, until=until)


def codes(D: HashingDiscriminator, stored: np.ndarray, bits: int, batch_size: int = 1000,
          device="auto") -> np.ndarray:
    """The K-bit codes (N, K) booleans of stored uint8 images: sign(b_K(x)) > 0."""
    if str(bits) not in D.codes:
        raise ValueError(f"this network has heads for {sorted(int(k) for k in D.codes)} bits, not {bits}")
    D.eval().to(resolve_device(device))
    relaxed = map_batches(lambda x: D.embed_and_relax(x)[2][bits], im.to_gan(stored), batch_size, device)
    return relaxed.numpy() > 0
