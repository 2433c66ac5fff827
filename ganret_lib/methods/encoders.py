"""Networks that map images to codes (chapter 4): a convolutional autoencoder trained without an
adversary (the control for GAN features) and an encoder that inverts a trained DCGAN generator.

Both encoders have the DCGAN discriminator's architecture (`models.Encoder`), so their features
can be compared layer for layer with the discriminator's. Training goes through the library's
loop (`core.loop.fit_or_load`): resumable, checkpointed under runs/.
"""
from __future__ import annotations

from dataclasses import asdict

import torch
import torch.nn.functional as F

from ..core.device import resolve_device
from ..core.loop import FitConfig, Fitter, fit_or_load
from ..gan.models import DCGANConfig, Encoder, Generator, init_weights


def _initialised(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    module.apply(init_weights)
    return module


def autoencoder_step(encoder, decoder, opt, x: torch.Tensor) -> dict:
    """One step of mean squared reconstruction error ||decoder(encoder(x)) - x||^2."""
    loss = F.mse_loss(decoder(encoder(x)), x)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return {"mse": loss.detach()}


def inversion_step(encoder, generator, opt, x: torch.Tensor, z: torch.Tensor, image_weight: float) -> dict:
    """One step of ||E(G(z)) - z||^2 + image_weight * ||G(E(x)) - x||^2; only E's optimiser steps."""
    with torch.no_grad():
        fake = generator(z)
    latent_loss = F.mse_loss(encoder(fake), z)
    image_loss = F.mse_loss(generator(encoder(x)), x)
    loss = latent_loss + image_weight * image_loss
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return {"latent_mse": latent_loss.detach(), "image_mse": image_loss.detach()}


def train_autoencoder(name: str, model_cfg: DCGANConfig, fit_cfg: FitConfig, images: torch.Tensor,
                      lr: float = 1e-3, device="auto", progress: bool = True, folder=None) -> Fitter:
    """Encoder (discriminator architecture) + decoder (generator architecture), mean squared error.

    The same two architectures as the DCGAN, trained on the same images with no adversary.
    Returns the Fitter: `.modules["encoder"]`, `.modules["decoder"]`, `.run_dir` (`folder`, if
    given, replaces the run directory under runs/).
    """
    device = resolve_device(device)
    torch.manual_seed(fit_cfg.seed)
    encoder = _initialised(Encoder(model_cfg), fit_cfg.seed).to(device)
    decoder = _initialised(Generator(model_cfg), fit_cfg.seed + 1).to(device)
    opt = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=lr)
    images = images.to(device)

    def step(_, idx, __):
        return autoencoder_step(encoder, decoder, opt, images[idx.to(device)])

    return fit_or_load(name, {"encoder": encoder, "decoder": decoder}, {"adam": opt}, step, len(images), fit_cfg,
                       {"model": asdict(model_cfg), "lr": lr, "kind": "autoencoder"}, progress=progress,
                       folder=folder)


def train_inversion_encoder(name: str, generator: Generator, model_cfg: DCGANConfig, fit_cfg: FitConfig,
                            images: torch.Tensor, generator_id: str, image_weight: float = 1.0,
                            lr: float = 2e-4, device="auto", progress: bool = True) -> Fitter:
    """An encoder E with G(E(x)) close to x, for a trained generator G that stays frozen.

    Loss per step: ||E(G(z)) - z||^2 on fresh generated samples (E learns G's own latent map)
    + image_weight * ||G(E(x)) - x||^2 on real images (E lands where G draws the real image).
    `generator_id` names the generator (e.g. its run directory) so that another G retrains E.
    Returns the Fitter: `.modules["encoder"]`, `.run_dir`.
    """
    device = resolve_device(device)
    encoder = _initialised(Encoder(model_cfg), fit_cfg.seed).to(device)
    opt = torch.optim.Adam(encoder.parameters(), lr=lr, betas=(0.5, 0.999))
    generator.eval().to(device)
    images = images.to(device)

    def step(_, idx, g):
        z = torch.randn(len(idx), model_cfg.nz, generator=g).to(device)
        return inversion_step(encoder, generator, opt, images[idx.to(device)], z, image_weight)

    generator.requires_grad_(False)  # gradients pass through G to E; G's weights stay as trained
    try:
        return fit_or_load(name, {"encoder": encoder}, {"adam": opt}, step, len(images), fit_cfg,
                    {"model": asdict(model_cfg), "lr": lr, "image_weight": image_weight,
                     "generator": generator_id, "kind": "inversion"}, progress=progress)
    finally:
        generator.requires_grad_(True)
