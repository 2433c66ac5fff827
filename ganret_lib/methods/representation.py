"""Discriminators trained to be descriptors (chapter 9), all on the DCGAN discriminator's body.

Label-free ways to train the body `features` (chapter 3's architecture), each a step run by the
library's one loop, at equal steps and batch size:
- "dcgan": chapter 3's adversary alone (the baseline every other kind adds one term to).
- "simclr": no adversary. Two random views of each image (`augment`) go through the body and a
  projection head; the NT-Xent loss (`nt_xent`, Chen et al. 2020) pulls the two views of an image
  together and pushes the other 2n - 2 views away. The control that answers: does an adversary
  add anything to contrastive learning?
- "contrastive": a DCGAN whose discriminator minimises its GAN loss plus `contrastive_weight`
  times the same NT-Xent loss on two views of the real batch, through the same body (after
  ContraD, Jeong & Shin 2021, simplified: no contrastive term on generated images, and the GAN
  loss trains the body too). G is chapter 3's.
- "rotation": a self-supervised GAN (SS-GAN, Chen et al. 2019). Each image is turned by a random
  multiple of 90 degrees; D minimises its GAN loss plus `rotation_weight_d` times the
  cross-entropy of predicting the turn of real images; G minimises its GAN loss plus
  `rotation_weight_g` times that cross-entropy on its own images (it must draw images whose
  orientation can be told).
- "bigan": BiGAN (Donahue et al. 2017; ALI, Dumoulin et al. 2017). An encoder E (the body with a
  head to a code of G's latent size) is trained with G against a discriminator of (image, code)
  pairs: D tells (x, E(x)) from (G(z), z); G and E fool it together. At the optimum E inverts G,
  so E must learn what distinguishes images; the descriptor body is E's, not D's.
The descriptor is chapter 4's: pooled layers of the body (`descriptor_body`), PCA
(`descriptors.PooledLayers`).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.device import resolve_device
from ..core.loop import FitConfig, Fitter, fit_or_load
from ..data import images as im
from ..gan import losses, models
from ..retrieval import protocol
from . import descriptors

KINDS = ("dcgan", "simclr", "contrastive", "rotation", "bigan")


class RepresentationDiscriminator(nn.Module):
    """DCGAN's discriminator (`gan.models.Discriminator`) with a projection head (NT-Xent) and a
    four-way rotation head, both on the flattened last 4 x 4 feature map."""

    def __init__(self, cfg: models.DCGANConfig, projection_dim: int = 64, base: models.Discriminator | None = None):
        super().__init__()
        base = base or models.Discriminator(cfg)
        self.features, self.head = base.features, base.head
        width = self.head.in_channels * 4 * 4
        self.projector = nn.Sequential(nn.Linear(width, 256), nn.ReLU(True), nn.Linear(256, projection_dim))
        self.rotation = nn.Linear(width, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).view(-1)

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, flattened features h) of one forward pass."""
        maps = self.features(x)
        return self.head(maps).view(-1), maps.flatten(1)


class JointDiscriminator(nn.Module):
    """BiGAN's discriminator of (image, code) pairs: a DCGAN discriminator body on the image, one
    layer on the code, and a two-layer head on both, joined (Donahue et al. 2017)."""

    def __init__(self, cfg: models.DCGANConfig, hidden: int = 256):
        super().__init__()
        base = models.Discriminator(cfg)
        base.apply(models.init_weights)
        self.image = base.features
        self.code = nn.Sequential(nn.Linear(cfg.nz, hidden), nn.LeakyReLU(0.2, True))
        self.head = nn.Sequential(nn.Linear(base.head.in_channels * 4 * 4 + hidden, hidden),
                                  nn.LeakyReLU(0.2, True), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.image(x).flatten(1), self.code(z.flatten(1))], 1)).view(-1)


@dataclass
class RepresentationConfig:
    kind: str = "simclr"  # one of KINDS
    temperature: float = 0.5  # NT-Xent's tau (SimCLR's default for small batches)
    contrastive_weight: float = 1.0  # "contrastive": weight of NT-Xent beside D's GAN loss
    rotation_weight_d: float = 1.0  # "rotation": beta of SS-GAN (Chen et al. 2019)
    rotation_weight_g: float = 0.2  # "rotation": alpha of SS-GAN
    min_crop: float = 0.6  # views: crop side between min_crop and 1 of the image's, anywhere inside
    lr: float = 2e-4  # Adam, every network (chapter 3's DCGAN settings)
    beta1: float = 0.5

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; use one of {KINDS}")


def augment(x: torch.Tensor, g: torch.Generator, min_crop: float = 0.6) -> torch.Tensor:
    """One random view of each image (gan form, (N, C, S, S) in [-1, 1]): a square crop of side
    between `min_crop` and 1 of the image's at a random place, resized back; a mirror with
    probability 1/2; contrast scaled by a factor in [0.6, 1] (the background stays -1). All draws
    come from `g`, so a view is a function of the generator's state."""
    n = len(x)
    side = min_crop + (1 - min_crop) * torch.rand(n, generator=g)
    shift = (1 - side)[:, None] * (2 * torch.rand(n, 2, generator=g) - 1)
    mirror = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    contrast = 0.6 + 0.4 * torch.rand(n, generator=g)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = side * mirror, side
    theta[:, :, 2] = shift
    theta = theta.to(x.device, x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    view = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return (view + 1) * contrast.to(x.device, x.dtype)[:, None, None, None] - 1


def nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent (SimCLR): rows a_i and b_i are two views of item i. Each of the 2n views is
    classified among the other 2n - 1 by cosine similarity / temperature; the target is its twin."""
    z = F.normalize(torch.cat([a, b]), dim=1)
    n = len(a)
    similarity = z @ z.T / temperature
    similarity = similarity.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), -math.inf)
    twin = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(similarity, twin)


def rotate(x: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """Each image turned by turns[i] quarter turns (counter-clockwise)."""
    out = torch.empty_like(x)
    for k in range(4):
        chosen = turns == k
        out[chosen] = torch.rot90(x[chosen], k, dims=(2, 3))
    return out


def _views_loss(D: RepresentationDiscriminator, x: torch.Tensor, g: torch.Generator,
                cfg: RepresentationConfig) -> torch.Tensor:
    views = torch.cat([augment(x, g, cfg.min_crop), augment(x, g, cfg.min_crop)])
    _, h = D.embed(views)  # one pass: batch norm sees both views together
    p = D.projector(h)
    return nt_xent(p[:len(x)], p[len(x):], cfg.temperature)


def _rotation_loss(D: RepresentationDiscriminator, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    turns = torch.randint(0, 4, (len(x),), generator=g).to(x.device)
    _, h = D.embed(rotate(x, turns))
    return F.cross_entropy(D.rotation(h), turns)


def simclr_step(D: RepresentationDiscriminator, opt, x: torch.Tensor, g: torch.Generator,
                cfg: RepresentationConfig) -> dict:
    """One SimCLR step on the body and the projection head (no adversary)."""
    loss = _views_loss(D, x, g, cfg)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return {"nt_xent": loss.detach()}


def gan_step(G, D: RepresentationDiscriminator, opt_g, opt_d, x: torch.Tensor, z: torch.Tensor,
             g: torch.Generator, cfg: RepresentationConfig) -> dict:
    """One step of a GAN kind: D on its GAN loss plus its self-supervised term ("contrastive",
    "rotation"; none for "dcgan"), then G on its GAN loss (plus, for "rotation", its rotation term)."""
    fake = G(z)
    loss_d = losses.d_loss(D(x), D(fake.detach()))
    extra = {}
    if cfg.kind == "contrastive":
        extra["nt_xent"] = _views_loss(D, x, g, cfg)
        total = loss_d + cfg.contrastive_weight * extra["nt_xent"]
    elif cfg.kind == "rotation":
        extra["rotation_ce"] = _rotation_loss(D, x, g)
        total = loss_d + cfg.rotation_weight_d * extra["rotation_ce"]
    else:
        total = loss_d
    opt_d.zero_grad(set_to_none=True)
    total.backward()
    opt_d.step()
    loss_g = losses.g_loss(D(fake), "non_saturating")
    if cfg.kind == "rotation":
        loss_g = loss_g + cfg.rotation_weight_g * _rotation_loss(D, fake, g)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return {"d_loss": loss_d.detach(), "g_loss": loss_g.detach()} | {k: v.detach() for k, v in extra.items()}


def bigan_step(G, E: models.Encoder, D: JointDiscriminator, opt_ge, opt_d, x: torch.Tensor,
               z: torch.Tensor) -> dict:
    """One BiGAN step: D on telling (x, E(x)) (real) from (G(z), z) (fake), then G and E together
    on the same loss with the labels swapped (the non-saturating form for both)."""
    code, fake = E(x), G(z)
    loss_d = losses.d_loss(D(x, code.detach()), D(fake.detach(), z))
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    loss_ge = losses.d_loss(D(fake, z), D(x, code))
    opt_ge.zero_grad(set_to_none=True)
    loss_ge.backward()
    opt_ge.step()
    return {"d_loss": loss_d.detach(), "ge_loss": loss_ge.detach()}


def build_bigan(model_cfg: models.DCGANConfig, seed: int = 0) -> tuple[models.Generator, models.Encoder,
                                                                          JointDiscriminator]:
    """(G, E, D): chapter 3's G and body of this seed (E's body starts as every other kind's),
    E's head to a code of G's latent size, a fresh joint discriminator."""
    G, base = models.build_dcgan(model_cfg, seed)
    E = models.Encoder(model_cfg)
    E.features = base.features
    return G, E, JointDiscriminator(model_cfg)


def descriptor_body(fit: Fitter) -> nn.Sequential:
    """The body whose pooled layers are the descriptor: the encoder's for BiGAN, D's otherwise."""
    return fit.modules["E" if "E" in fit.modules else "D"].features


def build(model_cfg: models.DCGANConfig, seed: int = 0) -> tuple[models.Generator, RepresentationDiscriminator]:
    """(G, D): chapter 3's DCGAN of this seed (`gan.models.build_dcgan`, so every kind starts from
    the same G and the same body), D with its two heads added (PyTorch's default initialisation)."""
    G, base = models.build_dcgan(model_cfg, seed)
    return G, RepresentationDiscriminator(model_cfg, base=base)


def train(name: str, model_cfg: models.DCGANConfig, cfg: RepresentationConfig, fit_cfg: FitConfig,
          stored: np.ndarray, data_id: str, device="auto", progress: bool = True,
          until: int | None = None) -> Fitter:
    """Train (or load, or resume) one network of `cfg.kind` on stored uint8 images; `data_id` names
    them (part of the run's identity). `.modules["D"]` is the RepresentationDiscriminator (for
    "bigan" the JointDiscriminator, with the encoder in `.modules["E"]`); a GAN kind also has
    `.modules["G"]`. `descriptor_body(fit)` is the body to describe images with."""
    device = resolve_device(device)
    x = im.to_gan(stored)
    betas = (cfg.beta1, 0.999)
    configs = {"model": asdict(model_cfg), "representation": asdict(cfg), "data": data_id}
    if cfg.kind == "bigan":
        return _train_bigan(name, model_cfg, cfg, fit_cfg, x, configs, betas, device, progress, until)
    G, D = build(model_cfg, fit_cfg.seed)
    G, D = G.to(device), D.to(device)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=betas)
    if cfg.kind == "simclr":
        def step(_, idx, g):
            return simclr_step(D, opt_d, x[idx].to(device), g, cfg)

        return fit_or_load(name, {"D": D}, {"adam_d": opt_d}, step, len(x), fit_cfg, configs,
                           progress=progress, until=until)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=betas)

    def gan(_, idx, g):
        z = torch.randn(len(idx), model_cfg.nz, generator=g)
        return gan_step(G, D, opt_g, opt_d, x[idx].to(device), z.to(device), g, cfg)

    return fit_or_load(name, {"G": G, "D": D}, {"adam_g": opt_g, "adam_d": opt_d}, gan, len(x), fit_cfg,
                       configs, progress=progress, until=until)


def _train_bigan(name, model_cfg, cfg, fit_cfg, x, configs, betas, device, progress, until) -> Fitter:
    G, E, D = (m.to(device) for m in build_bigan(model_cfg, fit_cfg.seed))
    opt_ge = torch.optim.Adam([*G.parameters(), *E.parameters()], lr=cfg.lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=betas)

    def step(_, idx, g):
        z = torch.randn(len(idx), model_cfg.nz, generator=g)
        return bigan_step(G, E, D, opt_ge, opt_d, x[idx].to(device), z.to(device))

    return fit_or_load(name, {"G": G, "E": E, "D": D}, {"adam_ge": opt_ge, "adam_d": opt_d}, step, len(x), fit_cfg,
                       configs, progress=progress, until=until)


def choose_on_validation(stack: nn.Sequential, val, layer_sets: list, dims: list, pool: str = "max",
                         seed: int = 0, device="auto", powers=(1.0,), whitenings=(0.0,)) -> tuple[dict, list[dict]]:
    """Chapter 4's recipe for a body `stack`, its settings chosen on validation queries: every
    layer set (0-based activation layers) and PCA size, cosine, mAP@all on `val` (a split drawn
    from the training set); then, at the chosen layers and size, every post-processing
    (`descriptors.postprocess`: each power normalisation and whitening exponent). Returns
    ({"layers": [...], "dim": d, "power": p, "whitening": w}, the validation rows)."""
    fb = descriptors.layer_features(stack, im.to_gan(val.xb), pool, progress=False, device=device)
    fq = descriptors.layer_features(stack, im.to_gan(val.xq), pool, progress=False, device=device)

    def evaluate(name, q, b, layers, dim, power=1.0, whitening=0.0):
        return protocol.evaluate(name, q, b, val, metric="cosine", progress=False, layers=list(layers),
                                 pca_dim=dim, power=power, whitening=whitening)

    rows = []
    for layers in layer_sets:
        b, q = descriptors.combine(fb, layers), descriptors.combine(fq, layers)
        for dim in dims:
            fitted = descriptors.PostProcess(min(dim, b.shape[1]), seed=seed).fit(b)
            rows.append(evaluate(f"layers {'+'.join(str(i + 1) for i in layers)}, PCA-{dim}", fitted.apply(q),
                                 fitted.apply(b), layers, dim))
    best = max(rows, key=lambda r: r["map_all"])
    b, q = descriptors.combine(fb, best["layers"]), descriptors.combine(fq, best["layers"])
    processed = []
    for power in powers:
        fitted = descriptors.PostProcess(min(best["pca_dim"], b.shape[1]), power, seed).fit(b)
        for whitening in whitenings:
            if (power, whitening) != (1.0, 0.0):
                processed.append(evaluate(f"{best['method']}, power {power}, whitening {whitening}",
                                          fitted.apply(q, whitening), fitted.apply(b, whitening),
                                          best["layers"], best["pca_dim"], power, whitening))
    best_processed = max([best, *processed], key=lambda r: r["map_all"])
    choice = {"layers": best["layers"], "dim": best["pca_dim"], "power": best_processed["power"],
              "whitening": best_processed["whitening"]}
    return choice, rows + processed
