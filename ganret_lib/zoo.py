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
from .methods import descriptors, encoders, representation


@dataclass(frozen=True)
class DCGANSettings:
    width: int  # ngf = ndf
    steps: int  # generator steps of batch 128 (468 are one epoch of 60,000 images)
    n_train: int | None  # training images (None: all 60,000)


DCGAN = {"smoke": DCGANSettings(8, 6, 512), "quick": DCGANSettings(32, 700, None),
         "full": DCGANSettings(64, 4680, None)}
CLASSIFIER_EPOCHS = {"smoke": 0.1, "quick": 2, "full": 5}  # smoke: a tenth of an epoch, a path check


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


ENCODER_STEPS = {"smoke": 4, "quick": 300, "full": 1500}  # steps of the encoder that inverts G
# Chapter 4's label-free descriptor as its validation queries chose it, in the quick and the full
# profile alike: max-pooled discriminator layers 1+2+3 (indices 0, 1, 2), PCA to 32 dimensions.
GAN_DESCRIPTOR = {"pool": "max", "layers": [0, 1, 2], "dim": 32}


def autoencoder(profile: str, seed: int = 0, device="auto", progress: bool = True) -> Fitter:
    """Chapter 4's autoencoder (the DCGAN's two architectures, no adversary), trained for as many
    steps as the DCGAN on the same images: `.modules["encoder"]`, `.modules["decoder"]`."""
    model_cfg, _, _ = dcgan_configs(profile, seed)
    steps = profile_config(profile, DCGAN).steps
    return encoders.train_autoencoder(f"autoencoder-{profile}", model_cfg, FitConfig(steps=steps, seed=seed),
                                      dcgan_training_images(profile, seed), device=device, progress=progress)


def inversion_encoder(profile: str, seed: int = 0, device="auto", progress: bool = True) -> Fitter:
    """Chapter 4's encoder E that inverts the profile's DCGAN generator (G(E(x)) close to x):
    `.modules["encoder"]`."""
    gan = dcgan(profile, seed, device=device, progress=progress)
    model_cfg, _, _ = dcgan_configs(profile, seed)
    return encoders.train_inversion_encoder(
        f"inversion-encoder-{profile}", gan.modules["G"], model_cfg,
        FitConfig(steps=profile_config(profile, ENCODER_STEPS), seed=seed), dcgan_training_images(profile, seed),
        generator_id=gan.run_dir.name, device=device, progress=progress)


def gan_descriptor(profile: str, seed: int = 0, device="auto"):
    """Chapter 4's label-free GAN descriptor (`GAN_DESCRIPTOR`) on the profile's trained
    discriminator, not yet fitted: `.fit(database images)`, then `.transform(images)`."""
    gan = dcgan(profile, seed, device=device)
    model_cfg, _, _ = dcgan_configs(profile, seed)
    pooled = descriptors.PooledLayers(gan.modules["D"].features, model_cfg, GAN_DESCRIPTOR["pool"],
                                      layers=GAN_DESCRIPTOR["layers"], device=device)
    return descriptors.PCA(pooled, GAN_DESCRIPTOR["dim"], seed=seed)


REPRESENTATION_STEPS = {"smoke": 4, "quick": 200, "full": 4680}  # chapter 9: equal for every kind


def representation_network(kind: str, profile: str, seed: int = 0, device="auto", progress: bool = True) -> Fitter:
    """Chapter 9's network of `kind` (`representation.KINDS`): the DCGAN's architecture and
    training images, `REPRESENTATION_STEPS` steps of batch 128. `.modules["D"]` (and "G")."""
    model_cfg, _, _ = dcgan_configs(profile, seed)
    steps = profile_config(profile, REPRESENTATION_STEPS)
    fit_cfg = FitConfig(steps=steps, batch_size=128, seed=seed, checkpoint_every=max(1, min(250, steps)),
                        log_every=max(1, min(25, steps // 2)))
    stored, labels = fashion_mnist.load_fashion_mnist("train")
    n_train = profile_config(profile, DCGAN).n_train
    chosen = fashion_mnist.stratified_subset(labels, n_train, seed)
    cfg = representation.RepresentationConfig(kind=kind)
    return representation.train(f"representation-{kind}-{profile}", model_cfg, cfg, fit_cfg, stored[chosen],
                                data_id=f"fashion-mnist-train-{n_train}-{seed}", device=device, progress=progress)
