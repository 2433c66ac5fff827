"""`ganret fit`: the book's label-free pipeline trained on any folder of images, saved as one file.

Two pipelines, both chapter 4's descriptor recipe (every activation layer of a DCGAN-architecture
conv stack, max-pooled to 4 x 4, each layer L2-normalised, concatenated, PCA to 32 dimensions,
cosine distance):
- "dcgan": the stack is the discriminator of a DCGAN trained on the images (chapter 3);
- "autoencoder": the stack is the encoder of an autoencoder of the same architectures, trained
  without an adversary (chapter 4's control, which matched or beat the GAN there).
Training runs in the library's one loop, checkpointed in a run folder beside the model file
(`<model>.run/`), so an interrupted `fit` resumes when run again with the same arguments. Under
`torchrun --nproc_per_node N -m ganret_lib.app.cli fit ...` it trains data-parallel on N
processes (`core.distributed`); rank 0 then fits the PCA and writes the model.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..core import distributed
from ..core.device import resolve_device
from ..core.loop import FitConfig
from ..core.runs import atomic_write_bytes
from ..data import fashion_mnist, folder, images
from ..gan import dcgan
from ..gan.models import DCGANConfig
from ..methods import descriptors, encoders

FORMAT = "ganret-model-1"
PIPELINES = ("dcgan", "autoencoder")
FASHION_MNIST = "fashion-mnist"  # IMAGES may name the book's data set instead of a folder


class ModelFileError(ValueError):
    """A file that is not a saved ganret model."""


@dataclass(frozen=True)
class FitSettings:
    pipeline: str = "dcgan"
    steps: int = 2000  # optimisation steps (batch 128): about 4 epochs of 60,000 images
    size: int = 32  # images are brought to size x size (32 or 64) by data.folder's rule
    channels: int = 1  # 1 grayscale, 3 RGB
    width: int = 32  # ngf = ndf, chapter 3's quick-profile DCGAN
    dim: int = 32  # PCA dimensions of the descriptor
    seed: int = 0
    max_images: int = 100_000  # a larger folder trains on a random subset of this many


@dataclass
class Model:
    """A fitted descriptor and the image rule its inputs must follow."""

    descriptor: descriptors.Descriptor
    settings: FitSettings
    training: dict  # what it was trained on: source, number of images, steps, seconds, date

    @property
    def identity(self) -> str:
        return self.descriptor.identity

    def transform(self, stored: np.ndarray) -> np.ndarray:
        return self.descriptor.transform(stored)

    def save(self, path) -> Path:
        buffer = io.BytesIO()
        torch.save({"format": FORMAT, "descriptor": self.descriptor.describe(),
                    "settings": asdict(self.settings), "training": self.training}, buffer)
        atomic_write_bytes(Path(path), buffer.getvalue())
        return Path(path)


def load(path) -> Model:
    """A model saved by `fit`; anything else is a ModelFileError that says what to do."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no model file at {path}; train one with `ganret fit IMAGES --out {path}`")
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, truncated, foreign objects
        raise ModelFileError(f"{path} is not a ganret model ({type(exc).__name__}); "
                             "train one with `ganret fit`") from None
    if not isinstance(stored, dict) or stored.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a ganret model (format {FORMAT!r} expected); train one with `ganret fit`")
    return Model(descriptors.from_description(stored["descriptor"]), FitSettings(**stored["settings"]),
                 stored["training"])


def training_images(source: str, settings: FitSettings, progress: bool = True) -> tuple[np.ndarray, list, str]:
    """(stored images by the rule, skipped files, a digest of what was read) of a folder or of
    Fashion-MNIST's training split."""
    if source == FASHION_MNIST:
        stored, _ = fashion_mnist.load_fashion_mnist("train")
        from PIL import Image  # the folder rule, so that exported PNGs of these images match

        stored = np.stack([folder.convert(Image.fromarray(x), settings.size, settings.channels) for x in stored])
        skipped, names = [], [f"{FASHION_MNIST}/train/{i}" for i in range(len(stored))]
    else:
        found = folder.read_folder(source, settings.size, settings.channels, progress=progress)
        stored, skipped, names = found.images, found.skipped, found.paths
    if len(stored) > settings.max_images:
        keep = np.sort(np.random.default_rng(settings.seed).choice(len(stored), settings.max_images, replace=False))
        stored, names = stored[keep], [names[i] for i in keep]
    digest = hashlib.sha256(stored.tobytes() + json.dumps(names).encode()).hexdigest()[:16]
    return stored, skipped, digest


def run_folder(out) -> Path:
    return Path(out).with_name(Path(out).name + ".run")


def _check_run_folder(run: Path, digest: str) -> None:
    """A run folder trains on one set of images: resuming on others would mix two trainings."""
    marker = run / "images.json"
    if marker.exists() and json.loads(marker.read_text())["digest"] != digest:
        raise ModelFileError(f"{run} holds a training on other images; delete that folder to start again, "
                             "or choose another --out")
    run.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(marker, json.dumps({"digest": digest}).encode())


def fit(source: str, out, settings: FitSettings = FitSettings(), device="auto", progress: bool = True,
        log=print) -> Model | None:
    """Train the pipeline on `source` (a folder, or "fashion-mnist"), fit its PCA on the same
    images, and save the model to `out` (atomically). Resumes from `<out>.run/` if it exists.
    In a data-parallel run, ranks other than 0 return None once training is done."""
    if settings.pipeline not in PIPELINES:
        raise ValueError(f"unknown pipeline {settings.pipeline!r}; use one of {PIPELINES}")
    DCGANConfig(image_size=settings.size)  # checks the size before any work
    device = resolve_device(device)
    if distributed.init_from_environment(device) and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))  # one GPU per rank
    if not distributed.is_main():
        log, progress = (lambda *_: None), False
    started = time.time()
    stored, skipped, digest = training_images(source, settings, progress)
    if skipped:
        log(folder.describe_skipped(skipped))
    if len(stored) < 2:
        raise folder.FolderError(f"{source} holds {len(stored)} readable image; training needs at least 2")
    log(f"training the {settings.pipeline} pipeline on {len(stored)} images of "
        f"{settings.size}x{settings.size}, {settings.steps} steps")
    run = run_folder(out)
    if distributed.is_main():
        _check_run_folder(run, digest)
    distributed.barrier()
    model_cfg = DCGANConfig(nz=100, ngf=settings.width, ndf=settings.width, nc=settings.channels,
                            image_size=settings.size)
    fit_cfg = FitConfig(steps=settings.steps, batch_size=min(128, len(stored)), seed=settings.seed,
                        checkpoint_every=max(1, min(250, settings.steps)), log_every=max(1, min(25, settings.steps)))
    x = images.to_gan(stored)
    if settings.pipeline == "dcgan":
        trained = dcgan.dcgan_fitter("ganret-fit", model_cfg, dcgan.GANConfig(sample_every=max(1, settings.steps // 4)),
                                     fit_cfg, x, device=device, folder=run, progress=progress)
        stack = trained.modules["D"].features
    else:
        trained = encoders.train_autoencoder("ganret-fit", model_cfg, fit_cfg, x, device=device, folder=run,
                                             progress=progress)
        stack = trained.modules["encoder"].features
    if not distributed.is_main():
        return None
    pooled = descriptors.PooledLayers(stack, model_cfg, "max", device=device)
    descriptor = descriptors.PCA(pooled, min(settings.dim, len(stored) - 1), seed=settings.seed).fit(stored)
    training = {"source": str(source), "images": len(stored), "skipped": len(skipped), "steps": trained.step,
                "train_s": round(trained.train_seconds, 1), "wall_s": round(time.time() - started, 1),
                "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    model = Model(descriptor, settings, training)
    model.save(out)
    return model
