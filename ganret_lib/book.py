"""The trained models that several chapters share, one per profile.

Chapter 3 trains the DCGAN and the Fashion-MNIST classifier; chapters 4 and 5 reuse them. The
settings live here, once, so that every chapter asks `train_or_load` for the same run directory
and finds the models already trained.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import data, quality, train
from .models import DCGANConfig
from .runs import profile_config


@dataclass(frozen=True)
class DCGANSettings:
    width: int  # ngf = ndf
    steps: int  # generator steps of batch 128 (468 are one epoch of 60,000 images)
    n_train: int | None  # training images (None: all 60,000)


DCGAN = {"smoke": DCGANSettings(8, 6, 512), "quick": DCGANSettings(32, 700, None),
         "full": DCGANSettings(64, 4680, None)}
CLASSIFIER_EPOCHS = {"smoke": 1, "quick": 2, "full": 5}


def dcgan_configs(profile: str, seed: int = 0) -> tuple[DCGANConfig, train.TrainConfig, int | None]:
    """(model config, training config, number of training images) of the profile's DCGAN."""
    s = profile_config(profile, DCGAN)
    model_cfg = DCGANConfig(nz=100, ngf=s.width, ndf=s.width, nc=1, image_size=32)
    train_cfg = train.TrainConfig(steps=s.steps, seed=seed, checkpoint_every=max(1, min(250, s.steps)),
                                  sample_every=max(1, s.steps // 4), log_every=max(1, min(25, s.steps // 2)))
    return model_cfg, train_cfg, s.n_train


def dcgan_training_images(n_train: int | None, seed: int = 0) -> torch.Tensor:
    images, labels = data.load_fashion_mnist("train")
    return train.to_gan_images(images[data.stratified_subset(labels, n_train, seed)])


def dcgan(profile: str, seed: int = 0, progress: bool = True) -> train.GANTrainer:
    """Chapter 3's DCGAN of this profile, trained on first use, loaded afterwards."""
    model_cfg, train_cfg, n_train = dcgan_configs(profile, seed)
    return train.train_or_load(f"dcgan-{profile}", model_cfg, train_cfg,
                               dcgan_training_images(n_train, seed), progress=progress)


def classifier(profile: str, seed: int = 0, progress: bool = True) -> quality.SmallCNN:
    """Chapter 3's Fashion-MNIST classifier of this profile (all 60,000 training images, labels)."""
    images, labels = data.load_fashion_mnist("train")
    cfg = quality.ClassifierConfig(epochs=profile_config(profile, CLASSIFIER_EPOCHS), seed=seed)
    return quality.train_classifier(train.to_gan_images(images), torch.tensor(labels), cfg,
                                    name=f"fmnist-classifier-{profile}", progress=progress)
