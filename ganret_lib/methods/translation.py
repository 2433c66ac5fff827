"""Sketch-to-photo translation before retrieval (chapter 7): paired and unpaired GANs.

A query drawn in another domain (a sketch, `data.sketch`) is translated into the database's
domain (photos) by a U-Net G (`gan.unet`), then retrieved with an ordinary descriptor. Three
ways to train G, one config (`TranslatorConfig.kind`):

- "pix2pix" (Isola et al. 2017): (sketch, photo) pairs; a conditional patch discriminator D sees
  [sketch, photo] or [sketch, G(sketch)]; G minimises adv + l1_weight * |G(s) - p|_1.
- "l1": the same U-Net and pairs, without the adversary (does the GAN term matter?).
- "cyclegan" (Zhu et al. 2017): no pairs. G: sketch -> photo and H: photo -> sketch, each with
  an unconditional patch discriminator, least-squares GAN losses, and the cycle consistency
  |H(G(s)) - s|_1 + |G(H(p)) - p|_1 weighted by cycle_weight. Sketches and photos come from
  disjoint images, so no pair is ever seen.

All train (or load) on the one training loop (`core.loop.fit_or_load`), resumable.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.device import resolve_device
from ..core.loop import FitConfig, Fitter, fit_or_load
from ..data import images as im
from ..gan import losses
from ..gan.models import init_weights
from ..gan.unet import PatchDiscriminator, UNet, apply_to_stored

KINDS = ("pix2pix", "l1", "cyclegan")


@dataclass
class TranslatorConfig:
    kind: str = "pix2pix"  # one of KINDS
    width: int = 32  # channels of the U-Net's first level and of the patch discriminators
    l1_weight: float = 100.0  # pix2pix's weight of |G(s) - p|_1 (Isola et al. 2017)
    cycle_weight: float = 10.0  # CycleGAN's weight of the two cycle losses (Zhu et al. 2017)
    lr: float = 2e-4
    beta1: float = 0.5

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown translator {self.kind!r}; use one of {KINDS}")


def paired_step(G, D, opt_g, opt_d, sketch: torch.Tensor, photo: torch.Tensor, cfg: TranslatorConfig) -> dict:
    """One pix2pix step on a batch of pairs (gan form); with kind "l1", D is left untouched."""
    fake = G(sketch)
    stats = {}
    if cfg.kind == "pix2pix":
        loss_d = losses.d_loss(D(torch.cat([sketch, photo], 1)), D(torch.cat([sketch, fake.detach()], 1)))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        adv = losses.g_loss(D(torch.cat([sketch, fake], 1)), "non_saturating")
        stats = {"d_loss": loss_d.detach(), "adv": adv.detach()}
    else:
        adv = torch.zeros((), device=sketch.device)
    l1 = F.l1_loss(fake, photo)
    opt_g.zero_grad(set_to_none=True)
    (adv + cfg.l1_weight * l1).backward()
    opt_g.step()
    return stats | {"l1": l1.detach()}


def lsgan_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Least-squares discriminator loss (Mao et al. 2017), as CycleGAN uses: real -> 1, fake -> 0."""
    return 0.5 * (((real_scores - 1) ** 2).mean() + (fake_scores ** 2).mean())


def lsgan_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    return ((fake_scores - 1) ** 2).mean()


def cycle_consistency(G: nn.Module, H: nn.Module, sketch: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """|H(G(s)) - s|_1 + |G(H(p)) - p|_1: each image must come back from a round trip."""
    return F.l1_loss(H(G(sketch)), sketch) + F.l1_loss(G(H(photo)), photo)


def cycle_step(G, H, D_photo, D_sketch, opt_g, opt_d, sketch: torch.Tensor, photo: torch.Tensor,
               cfg: TranslatorConfig) -> dict:
    """One CycleGAN step on unpaired batches (gan form): both generators, then both critics."""
    fake_photo, fake_sketch = G(sketch), H(photo)
    adv = lsgan_g_loss(D_photo(fake_photo)) + lsgan_g_loss(D_sketch(fake_sketch))
    cycle = F.l1_loss(H(fake_photo), sketch) + F.l1_loss(G(fake_sketch), photo)
    opt_g.zero_grad(set_to_none=True)
    (adv + cfg.cycle_weight * cycle).backward()
    opt_g.step()
    loss_d = (lsgan_d_loss(D_photo(photo), D_photo(fake_photo.detach()))
              + lsgan_d_loss(D_sketch(sketch), D_sketch(fake_sketch.detach())))
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    return {"d_loss": loss_d.detach(), "adv": adv.detach(), "cycle": cycle.detach()}


def _adam(*modules, cfg: TranslatorConfig) -> torch.optim.Adam:
    return torch.optim.Adam([p for m in modules for p in m.parameters()], lr=cfg.lr, betas=(cfg.beta1, 0.999))


def train_translator(name: str, cfg: TranslatorConfig, fit_cfg: FitConfig, sketches: np.ndarray,
                     photos: np.ndarray, data_id: str, device="auto", progress: bool = True,
                     until: int | None = None) -> Fitter:
    """Train (or load) a sketch -> photo translator on stored uint8 images.

    Paired kinds ("pix2pix", "l1"): `sketches[i]` is drawn from `photos[i]`. "cyclegan": the two
    sets are unrelated (the caller draws them from disjoint images); each step takes the epoch's
    batch of sketches and a random batch of photos. `data_id` names the data (which images,
    which sketch style), part of the run's identity; `until` stops (or resumes) at that step.
    Returns the Fitter: `.modules["G"]` maps sketches to photos (and, for "cyclegan",
    `.modules["H"]` photos to sketches).
    """
    if cfg.kind != "cyclegan" and len(sketches) != len(photos):
        raise ValueError(f"paired training needs one sketch per photo, got {len(sketches)} sketches "
                         f"and {len(photos)} photos")
    device = resolve_device(device)
    torch.manual_seed(fit_cfg.seed)
    s_all, p_all = im.to_gan(sketches), im.to_gan(photos)
    G = UNet(cfg.width).to(device)
    configs = {"translator": asdict(cfg), "data": data_id}
    if cfg.kind == "cyclegan":
        H = UNet(cfg.width).to(device)
        D_photo, D_sketch = PatchDiscriminator(cfg.width), PatchDiscriminator(cfg.width)
        for D in (D_photo, D_sketch):
            D.apply(init_weights).to(device)
        opt_g, opt_d = _adam(G, H, cfg=cfg), _adam(D_photo, D_sketch, cfg=cfg)

        def step(_, idx, g):
            other = torch.randint(len(p_all), (len(idx),), generator=g)
            return cycle_step(G, H, D_photo, D_sketch, opt_g, opt_d, s_all[idx].to(device),
                              p_all[other].to(device), cfg)

        modules = {"G": G, "H": H, "D_photo": D_photo, "D_sketch": D_sketch}
    else:
        D = PatchDiscriminator(cfg.width, in_channels=2).apply(init_weights).to(device)
        opt_g, opt_d = _adam(G, cfg=cfg), _adam(D, cfg=cfg)

        def step(_, idx, g):
            return paired_step(G, D, opt_g, opt_d, s_all[idx].to(device), p_all[idx].to(device), cfg)

        modules = {"G": G, "D": D}
    return fit_or_load(name, modules, {"adam_g": opt_g, "adam_d": opt_d}, step, len(s_all), fit_cfg,
                       configs, progress=progress, until=until)


def translate(G: nn.Module, sketches: np.ndarray, device="auto") -> np.ndarray:
    """G's photos of stored uint8 sketches, stored as uint8 images of the same size."""
    return apply_to_stored(G, sketches, device=device)


def edge_hog(drawings: np.ndarray, cell: int) -> np.ndarray:
    """The handcrafted baseline's descriptor (Hu & Collomosse 2013 in its simplest form): HOG
    (Dalal & Triggs 2005, scikit-image; 9 orientations, cells of `cell` pixels, 2 x 2 blocks,
    L2-Hys) of stored uint8 line drawings (N, H, W), sketches and edge maps alike."""
    from skimage.feature import hog

    drawings = im.check_stored(drawings, "drawings")
    return np.stack([hog(d, orientations=9, pixels_per_cell=(cell, cell), cells_per_block=(2, 2))
                     for d in drawings]).astype(np.float32)
