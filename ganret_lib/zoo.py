"""The trained models that several chapters share, one per profile, with their run directory.

Chapter 3 trains the DCGAN and the Fashion-MNIST classifier; chapters 4 and 5 reuse them. The
settings live here, once, so that every chapter asks for the same run directory and finds the
models already trained. Each function returns the `Fitter` of the model: `.modules[...]`,
`.run_dir`, `.step`, `.train_seconds`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .core.loop import FitConfig, Fitter
from .core.runs import profile_config
from .data import fashion_mnist, images
from .gan import dcgan as gan_training
from .gan import quality
from .gan.models import DCGANConfig


@dataclass(frozen=True)
class DCGANSettings:
    width: int  # ngf = ndf
    steps: int  # generator steps of batch 128 (468 are one epoch of 60,000 images)
    n_train: int | None  # training images (None: all 60,000)


DCGAN = {"smoke": DCGANSettings(8, 6, 512), "quick": DCGANSettings(32, 700, None),
         "full": DCGANSettings(64, 4680, None)}
CLASSIFIER_EPOCHS = {"smoke": 1, "quick": 2, "full": 5}


def dcgan_configs(profile: str, seed: int = 0) -> tuple[DCGANConfig, gan_training.GANConfig, FitConfig]:
    """(model, GAN and loop configs) of the profile's DCGAN."""
    s = profile_config(profile, DCGAN)
    model_cfg = DCGANConfig(nz=100, ngf=s.width, ndf=s.width, nc=1, image_size=32)
    gan_cfg = gan_training.GANConfig(sample_every=max(1, s.steps // 4))
    fit_cfg = FitConfig(steps=s.steps, batch_size=128, seed=seed, checkpoint_every=max(1, min(250, s.steps)),
                        log_every=max(1, min(25, s.steps // 2)))
    return model_cfg, gan_cfg, fit_cfg


def dcgan_training_images(profile: str, seed: int = 0) -> torch.Tensor:
    """The DCGAN's training images in gan form: a class-balanced subset of the training split."""
    stored, labels = fashion_mnist.load_fashion_mnist("train")
    n_train = profile_config(profile, DCGAN).n_train
    return images.to_gan(stored[fashion_mnist.stratified_subset(labels, n_train, seed)])


def dcgan(profile: str, seed: int = 0, device="auto", progress: bool = True) -> Fitter:
    """Chapter 3's DCGAN of this profile, trained on first use, loaded afterwards."""
    model_cfg, gan_cfg, fit_cfg = dcgan_configs(profile, seed)
    return gan_training.dcgan_fitter(f"dcgan-{profile}", model_cfg, gan_cfg, fit_cfg,
                                     dcgan_training_images(profile, seed), device=device, progress=progress)


def classifier(profile: str, seed: int = 0, device="auto", progress: bool = True,
               degradations: tuple = ()) -> Fitter:
    """Chapter 3's Fashion-MNIST classifier of this profile (all training images, labels);
    with `degradations`, chapter 5's robust variant trained with them as augmentation."""
    stored, labels = fashion_mnist.load_fashion_mnist("train")
    cfg = quality.ClassifierConfig(epochs=profile_config(profile, CLASSIFIER_EPOCHS), seed=seed)
    name = f"fmnist-classifier-{'augmented-' if degradations else ''}{profile}"
    return quality.train_classifier(name, images.to_gan(stored), torch.tensor(labels), cfg, device=device,
                                    progress=progress, degradations=degradations, stored_shape=stored.shape[1:3])
