"""AFA-SVR, adversarial feature augmentation for single-view retrieval, as the book defines it
(chapter 5).

- F: a CNN trained on clean images with labels (`quality.SmallCNN`, chapter 3's classifier);
  `F.body` gives 128-d features, `F.head` the class logits (the "classification decision").
- G: a U-Net that maps a degraded image to a clean-looking one, trained on synthetic
  (degraded, clean) pairs of the SEEN degradations with three losses: an adversarial loss from
  a patch discriminator, an L1 reconstruction loss and a feature-consistency loss
  1 - cos(F(G(x~)), F(x)). No class labels enter G's training (F is frozen).
- Fusion: phi_w(x) = [sqrt(w) n(F(x)); sqrt(1 - w) n(F(G(x)))] with n = L2 normalisation, so
  that <phi_w(q), phi_w(b)> = w cos(F q, F b) + (1 - w) cos(F G q, F G b).
- Decision: psi(x) = [sqrt(1 - beta) phi_w(x); sqrt(beta) p(x)] with p the class posteriors
  (w-weighted like the features); ranked by inner product, the score is
  (1 - beta) <phi, phi> + beta <p_q, p_b>: agreement of the two decisions re-ranks the list.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import losses
from .degrade import SEEN, random_seen_degradation
from .fit import FitConfig, Fitter, fit_or_load
from .index import l2_normalise
from .models import init_weights


def _block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]


class UNetCleaner(nn.Module):
    """1 x 32 x 32 -> w x 32 -> 2w x 16 -> 4w x 8 -> (up, skip) 2w x 16 -> (up, skip) w x 32 -> 1 x 32 x 32."""

    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        self.enc1 = nn.Sequential(*_block(1, w), *_block(w, w))  # w x 32 x 32
        self.enc2 = nn.Sequential(nn.MaxPool2d(2), *_block(w, 2 * w), *_block(2 * w, 2 * w))  # 2w x 16 x 16
        self.bottom = nn.Sequential(nn.MaxPool2d(2), *_block(2 * w, 4 * w), *_block(4 * w, 4 * w))  # 4w x 8 x 8
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)  # 2w x 16 x 16
        self.dec2 = nn.Sequential(*_block(4 * w, 2 * w))  # after the skip from enc2
        self.up1 = nn.ConvTranspose2d(2 * w, w, 2, stride=2)  # w x 32 x 32
        self.dec1 = nn.Sequential(*_block(2 * w, w))  # after the skip from enc1
        self.out = nn.Conv2d(w, 1, 1)  # 1 x 32 x 32, tanh: images in [-1, 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        d2 = self.dec2(torch.cat([self.up2(self.bottom(e2)), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return torch.tanh(self.out(d1))


class PatchDiscriminator(nn.Module):
    """1 x 32 x 32 -> w x 16 -> 2w x 8 -> 1 x 8 x 8 logits: one real/fake decision per 10 x 10 patch."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2, True),  # w x 16 x 16
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * width, 1, 3, 1, 1))  # 1 x 8 x 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass
class CleanerConfig:
    width: int = 32  # channels of the U-Net's first level and of the patch discriminator
    adv_weight: float = 1.0  # 0 trains without the adversary: the ablation
    rec_weight: float = 100.0  # L1 reconstruction, pix2pix's weight (Isola et al. 2017)
    feat_weight: float = 10.0  # feature consistency 1 - cos(F(G(x~)), F(x))
    lr: float = 2e-4
    beta1: float = 0.5
    kinds: tuple = SEEN  # degradations drawn in training


def to_unit(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [0, 1]."""
    return torch.from_numpy(np.asarray(images, dtype=np.float32) / 255.0).unsqueeze(1)


def unit_to_gan(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] 28 x 28 -> [-1, 1] 32 x 32, padded with background like `train.to_gan_images`."""
    return F.pad(x * 2 - 1, (2, 2, 2, 2), value=-1.0)


def feature_consistency(classifier: nn.Module, restored: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    return (1 - F.cosine_similarity(classifier.body(restored), classifier.body(clean), dim=1)).mean()


def train_cleaner(name: str, classifier: nn.Module, clean_images: np.ndarray, cfg: CleanerConfig,
                  fit_cfg: FitConfig, classifier_id: str, progress: bool = True) -> Fitter:
    """Train (or load) G and its patch discriminator on clean uint8 images degraded on the fly.

    `classifier` (F) is frozen; `classifier_id` names it so that another F retrains G.
    Returns the Fitter: `.modules["G"]`, `.modules["D"]`, `.run_dir`.
    """
    torch.manual_seed(fit_cfg.seed)
    G, D = UNetCleaner(cfg.width), PatchDiscriminator(cfg.width)
    D.apply(init_weights)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    clean = to_unit(clean_images)
    classifier.eval()

    def step(_, idx, g):
        x = clean[idx]
        real, degraded = unit_to_gan(x), unit_to_gan(random_seen_degradation(x, g, cfg.kinds))
        restored = G(degraded)
        stats = {}
        if cfg.adv_weight > 0:
            loss_d = losses.d_loss(D(real), D(restored.detach()))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            adv = losses.g_loss(D(restored), "non_saturating")
            stats |= {"d_loss": loss_d.detach(), "adv": adv.detach()}
        else:
            adv = torch.zeros(())
        rec = F.l1_loss(restored, real)
        feat = feature_consistency(classifier, restored, real)
        loss = cfg.adv_weight * adv + cfg.rec_weight * rec + cfg.feat_weight * feat
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        return stats | {"l1": rec.detach(), "feat": feat.detach()}

    classifier.requires_grad_(False)  # gradients reach G through F; F's weights stay as trained
    try:
        return fit_or_load(name, {"G": G, "D": D}, {"adam_g": opt_g, "adam_d": opt_d}, step, len(clean),
                           fit_cfg, {"cleaner": asdict(cfg), "classifier": classifier_id}, progress=progress)
    finally:
        classifier.requires_grad_(True)


@torch.no_grad()
def restore(G: nn.Module, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """G applied to uint8 images (N, 28, 28); the result stored as uint8 images again."""
    G.eval()
    x = unit_to_gan(to_unit(images))
    out = torch.cat([G(x[lo:lo + batch_size]) for lo in range(0, len(x), batch_size)])
    return ((out[:, 0, 2:30, 2:30] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()


@torch.no_grad()
def features_and_posteriors(classifier: nn.Module, images: np.ndarray, batch_size: int = 1000):
    """F's 128-d features and class posteriors of uint8 images (N, 28, 28)."""
    classifier.eval()
    x = unit_to_gan(to_unit(images))
    feats = torch.cat([classifier.body(x[lo:lo + batch_size]) for lo in range(0, len(x), batch_size)])
    return feats.numpy(), torch.softmax(classifier.head(feats), 1).numpy()


def fuse(f_original: np.ndarray, f_restored: np.ndarray, w: float) -> np.ndarray:
    """phi_w = [sqrt(w) n(F(x)); sqrt(1 - w) n(F(G(x)))]: a unit vector whose inner products are
    w-weighted sums of the two cosine similarities."""
    if not 0 <= w <= 1:
        raise ValueError(f"the fusion weight w must be in [0, 1], got {w}")
    return np.hstack([np.sqrt(w) * l2_normalise(f_original), np.sqrt(1 - w) * l2_normalise(f_restored)]).astype(np.float32)


def with_decision(fused: np.ndarray, posteriors: np.ndarray, beta: float) -> np.ndarray:
    """psi = [sqrt(1 - beta) phi; sqrt(beta) p]; rank by inner product (metric "ip")."""
    if not 0 <= beta <= 1:
        raise ValueError(f"the decision weight beta must be in [0, 1], got {beta}")
    return np.hstack([np.sqrt(1 - beta) * fused, np.sqrt(beta) * posteriors]).astype(np.float32)


def median_filter(images: np.ndarray, size: int = 3) -> np.ndarray:
    """The classical baseline: a size x size median filter on each uint8 image (N, H, W)."""
    from scipy import ndimage

    return ndimage.median_filter(np.asarray(images), size=(1, size, size))


def database_descriptors(f_db: np.ndarray, p_db: np.ndarray, w: float, beta: float) -> dict:
    """The clean database's side of every method: F's features, fused and with the decision.

    Database images are clean by construction, so they are not passed through G: their fused
    descriptor is phi_w(x) with F(x) in both halves, and a query's score against it is
    w cos(F(x~), F(x)) + (1 - w) cos(F(G(x~)), F(x)).
    """
    fused = fuse(f_db, f_db, w)
    return {"F": f_db, "fused": fused, "decision": with_decision(fused, p_db, beta)}


def query_descriptors(classifier: nn.Module, cleaners: dict, degraded: np.ndarray, w: float, beta: float) -> dict:
    """{method: (query descriptors, database key, metric)} for degraded uint8 queries.

    Methods: F on the degraded query; a median filter then F; and, for each cleaner G of
    `cleaners` ({suffix: G}), F on G's output, the fused descriptor, and fused + decision.
    """
    f_deg, p_deg = features_and_posteriors(classifier, degraded)
    f_med, _ = features_and_posteriors(classifier, median_filter(degraded))
    out = {"F on the degraded query": (f_deg, "F", "cosine"), "median filter, then F": (f_med, "F", "cosine")}
    for suffix, G in cleaners.items():
        f_res, p_res = features_and_posteriors(classifier, restore(G, degraded))
        fused = fuse(f_deg, f_res, w)
        out[f"F on G(x~){suffix}"] = (f_res, "F", "cosine")
        out[f"fused{suffix}"] = (fused, "fused", "cosine")
        out[f"fused + decision{suffix}"] = (with_decision(fused, w * p_deg + (1 - w) * p_res, beta), "decision", "ip")
    return out
