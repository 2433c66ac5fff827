"""Retrieval descriptors (chapters 1 and 4): functions, and fitted objects that save.

Functions: `raw_pixels`, `pca`; `layer_features` taps every activation of a conv stack (a DCGAN
discriminator's `features`, an encoder's, ...) and pools each layer's maps the way Radford et
al. (2016) did for their discriminator features: max-pooling to a 4 x 4 grid, flattened; or
global average pooling. `combine` L2-normalises each layer before concatenating, so that no
layer dominates by scale.

Objects: every descriptor the book uses is a `Descriptor` with `fit(images)`,
`transform(images)`, `save(path)` and `load(path)`, on stored uint8 images: `Pixels`, `PCA`
(of any other descriptor), `PooledLayers` (a DCGAN-architecture conv stack), `EncoderCode`,
`ClassifierFeatures`. `PCA(PooledLayers(D.features, cfg), 128)` is chapter 4's "GAN features".
"""
from __future__ import annotations

import copy
import hashlib
import io
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..core.device import map_batches, resolve_device
from ..core.runs import atomic_write_bytes
from ..data import images as im
from ..gan import quality
from ..gan.models import DCGANConfig, Discriminator, Encoder
from ..gan.quality import SmallCNN
from ..retrieval.vectors import l2_normalise

FORMAT = "ganret-descriptor-1"


def raw_pixels(stored: np.ndarray) -> np.ndarray:
    """uint8 images (N, H, W[, C]) -> float32 vectors (N, H*W*C) in [0, 1]."""
    stored = im.check_stored(stored)
    return stored.reshape(len(stored), -1).astype(np.float32) / 255.0


def pca(fit_on: np.ndarray, transform: list[np.ndarray], dim: int, whiten: bool = False,
        seed: int = 0) -> list[np.ndarray]:
    """Fit PCA on `fit_on` (the database) and project each array of `transform`."""
    model = PCA(Pixels(), dim, whiten, seed)._fit_vectors(fit_on)
    return [model._project(x) for x in transform]


class PostProcess:
    """Retrieval's usual post-processing (chapter 9), fitted on the database without labels:
    signed power normalisation sign(x) |x|^power (1: none; 0.5 damps the few large activations
    that dominate a cosine), then PCA to `dim`; `apply(x, whitening)` then divides each
    component by its standard deviation to the power `whitening` (0: plain PCA, exactly `pca`;
    1: full whitening; between: whitening shrunk towards none). One fit serves every whitening."""

    def __init__(self, dim: int, power: float = 1.0, seed: int = 0):
        if power <= 0:
            raise ValueError(f"power must be positive, got {power}")
        self.dim, self.power, self.seed = dim, power, seed

    def _signed_power(self, x: np.ndarray) -> np.ndarray:
        return x if self.power == 1 else (np.sign(x) * np.abs(x) ** self.power).astype(np.float32)

    def fit(self, x: np.ndarray) -> PostProcess:
        self.pca = PCA(Pixels(), self.dim, False, self.seed)._fit_vectors(self._signed_power(x))
        return self

    def apply(self, x: np.ndarray, whitening: float = 0.0) -> np.ndarray:
        if not 0 <= whitening <= 1:
            raise ValueError(f"whitening must be between 0 and 1, got {whitening}")
        out = self.pca._project(self._signed_power(x))
        return out * (self.pca.variance ** (-whitening / 2)).astype(np.float32) if whitening else out


def postprocess(fit_on: np.ndarray, transform: list[np.ndarray], dim: int, power: float = 1.0,
                whitening: float = 0.0, seed: int = 0) -> list[np.ndarray]:
    """`PostProcess` fitted on `fit_on` (the database) and applied to each array of `transform`."""
    fitted = PostProcess(dim, power, seed).fit(fit_on)
    return [fitted.apply(x, whitening) for x in transform]


POOLS = ("max", "avg")
ACTIVATIONS = (nn.ReLU, nn.LeakyReLU)


def _check_images(images) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or not images.is_floating_point():
        shape = getattr(images, "shape", None)
        raise ValueError(f"images must be a float tensor (N, C, H, W) in [-1, 1], got {type(images).__name__} "
                         f"of shape {shape}; convert uint8 images with ganret_lib.data.images.to_gan")
    return images


@torch.no_grad()
def layer_features(stack: nn.Sequential, images: torch.Tensor, pool: str = "max", grid: int = 4,
                   batch_size: int = 500, progress: bool = True, device="auto") -> list[np.ndarray]:
    """One float32 array (N, channels * cells) per activation layer of `stack`.

    pool "max": each map max-pooled to grid x grid cells; "avg": each map averaged (one cell).
    The stack runs in eval mode (batch norm with its running statistics).
    """
    if pool not in POOLS:
        raise ValueError(f"unknown pooling {pool!r}; use one of {POOLS}")
    images = _check_images(images)
    taps = [i for i, layer in enumerate(stack) if isinstance(layer, ACTIVATIONS)]
    if not taps:
        raise ValueError("the stack has no ReLU/LeakyReLU layer to take features from")
    device = resolve_device(device)
    stack.eval().to(device)
    outputs = [[] for _ in taps]
    batches = range(0, len(images), batch_size)
    for lo in tqdm(batches, desc=f"{pool}-pooled features", disable=not progress, mininterval=2):
        h = images[lo:lo + batch_size].to(device)
        for i, layer in enumerate(stack[:taps[-1] + 1]):
            h = layer(h)
            if i in taps:
                pooled = F.adaptive_max_pool2d(h, grid) if pool == "max" else F.adaptive_avg_pool2d(h, 1)
                outputs[taps.index(i)].append(pooled.flatten(1).cpu().numpy())
    return [np.concatenate(o).astype(np.float32) for o in outputs]


def recompute_batchnorm(stack: nn.Module, images: torch.Tensor, batch_size: int = 500, device="auto") -> nn.Module:
    """A copy of `stack` whose batch-norm layers hold statistics of their inputs on `images`.

    The usual stronger random-network control: a freshly initialised network's running
    statistics are the identity (mean 0, variance 1), which leaves its activations badly scaled.
    torch's `update_bn` resets them and averages the batch statistics over `images` (gan form).
    """
    from torch.optim.swa_utils import update_bn

    device = resolve_device(device)
    copied = copy.deepcopy(stack).to(device)
    images = _check_images(images)
    batches = (images[lo:lo + batch_size].to(device) for lo in range(0, len(images), batch_size))
    update_bn(batches, copied, device=device)
    return copied.eval()


def weights_digest(module: nn.Module) -> str:
    """A short hash of a network's parameters and buffers: a cache key that a retrained network
    (same run directory, other weights) cannot share."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def combine(layers: list[np.ndarray], which=None) -> np.ndarray:
    """Concatenate the chosen layers (0-based indices; default all), each L2-normalised first."""
    which = range(len(layers)) if which is None else which
    return np.hstack([l2_normalise(layers[i]) for i in which]).astype(np.float32)


def encode(encoder: nn.Module, images: torch.Tensor, batch_size: int = 1000, device="auto") -> np.ndarray:
    """The encoder's output code (N, out_dim) as float32."""
    images = _check_images(images)
    encoder.eval().to(resolve_device(device))
    return map_batches(encoder, images, batch_size, device).numpy()


# -- fitted descriptors ---------------------------------------------------------------------------
class DescriptorFileError(ValueError):
    """A file that is not a saved descriptor."""


REGISTRY: dict[str, type[Descriptor]] = {}


def register(cls):
    REGISTRY[cls.kind] = cls
    return cls


class Descriptor:
    """Stored uint8 images -> float32 vectors. `fit` learns what needs learning (nothing, for
    most), `transform` computes, `save`/`load` keep everything needed in one file."""

    kind: ClassVar[str]

    def fit(self, stored: np.ndarray) -> Descriptor:
        return self

    def transform(self, stored: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fit_transform(self, stored: np.ndarray) -> np.ndarray:
        return self.fit(stored).transform(stored)

    def state(self) -> dict:
        """Tensors and plain values that `from_state` rebuilds the descriptor from."""
        return {}

    @classmethod
    def from_state(cls, state: dict) -> Descriptor:
        return cls()

    def describe(self) -> dict:
        return {"kind": self.kind, "state": self.state()}

    @property
    def identity(self) -> str:
        """A short hash of the descriptor's kind and state: an index remembers it."""
        buffer = io.BytesIO()
        torch.save(self.describe(), buffer)
        return f"{self.kind}-{hashlib.sha256(buffer.getvalue()).hexdigest()[:12]}"

    def save(self, path) -> Path:
        buffer = io.BytesIO()
        torch.save({"format": FORMAT, **self.describe()}, buffer)
        atomic_write_bytes(Path(path), buffer.getvalue())
        return Path(path)


def from_description(description: dict) -> Descriptor:
    kind = description.get("kind")
    if kind not in REGISTRY:
        raise DescriptorFileError(f"unknown descriptor kind {kind!r}; known: {sorted(REGISTRY)}")
    return REGISTRY[kind].from_state(description["state"])


def load(path) -> Descriptor:
    """A descriptor saved by `Descriptor.save`; anything else is a DescriptorFileError."""
    path = Path(path)
    if not path.is_file():
        raise DescriptorFileError(f"no descriptor file at {path}; fit one and save it first")
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, truncated, or unexpected objects
        raise DescriptorFileError(f"{path} is not a saved descriptor ({type(exc).__name__}: {exc})") from exc
    if not isinstance(stored, dict) or stored.get("format") != FORMAT:
        raise DescriptorFileError(f"{path} is not a saved descriptor (format {FORMAT!r} expected)")
    return from_description(stored)


@register
class Pixels(Descriptor):
    """Raw pixels in [0, 1], flattened (chapter 1)."""

    kind = "pixels"

    def transform(self, stored: np.ndarray) -> np.ndarray:
        return raw_pixels(stored)


@register
class PCA(Descriptor):
    """Principal components of another descriptor, fitted on the database without labels."""

    kind = "pca"

    def __init__(self, base: Descriptor, dim: int, whiten: bool = False, seed: int = 0):
        self.base, self.dim, self.whiten, self.seed = base, dim, whiten, seed
        self.components = self.mean = self.variance = None

    def _fit_vectors(self, x: np.ndarray) -> PCA:
        from sklearn.decomposition import PCA as SkPCA

        if not 1 <= self.dim <= min(x.shape):
            raise ValueError(f"PCA dimension {self.dim} must be between 1 and {min(x.shape)}")
        model = SkPCA(n_components=self.dim, whiten=self.whiten, random_state=self.seed).fit(x)
        self.components, self.mean, self.variance = model.components_, model.mean_, model.explained_variance_
        return self

    def _project(self, x: np.ndarray) -> np.ndarray:
        """What scikit-learn's PCA.transform computes, in the same order (same floats)."""
        if self.components is None:
            raise RuntimeError("this PCA is not fitted: call fit(database images) first")
        out = x @ self.components.T
        out -= self.mean.reshape(1, -1) @ self.components.T
        if self.whiten:
            out /= np.sqrt(self.variance)
        return out.astype(np.float32)

    def fit(self, stored: np.ndarray) -> PCA:
        return self._fit_vectors(self.base.fit(stored).transform(stored))

    def transform(self, stored: np.ndarray) -> np.ndarray:
        return self._project(self.base.transform(stored))

    def fit_transform(self, stored: np.ndarray) -> np.ndarray:
        x = self.base.fit(stored).transform(stored)
        return self._fit_vectors(x)._project(x)

    def state(self) -> dict:
        if self.components is None:
            raise RuntimeError("an unfitted PCA cannot be saved: call fit first")
        return {"base": self.base.describe(), "dim": self.dim, "whiten": self.whiten, "seed": self.seed,
                "components": torch.from_numpy(self.components), "mean": torch.from_numpy(self.mean),
                "variance": torch.from_numpy(self.variance)}

    @classmethod
    def from_state(cls, state: dict) -> PCA:
        out = cls(from_description(state["base"]), state["dim"], state["whiten"], state["seed"])
        out.components, out.mean, out.variance = (state[k].numpy() for k in ("components", "mean", "variance"))
        return out


class _Network(Descriptor):
    """A descriptor computed by a network that `from_state` rebuilds from its config."""

    def __init__(self, device="auto", batch_size: int = 500):
        self.device, self.batch_size = device, batch_size

    def _images(self, stored: np.ndarray) -> torch.Tensor:
        return im.to_gan(stored)


def _weights(module: nn.Module) -> dict:
    """State dict on the CPU, and the memory layout: a channels-last network (the DCGAN trains
    so) computes in another order, so a reloaded copy must use the same layout to give the
    same floats."""
    # a weight with one input channel or a 1 x 1 kernel is both layouts at once: look at all
    weights = [m.weight for m in module.modules() if isinstance(m, nn.Conv2d)]
    channels_last = any(w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()
                        for w in weights)
    return {"weights": {k: v.cpu() for k, v in module.state_dict().items()}, "channels_last": channels_last}


def _restored(module: nn.Module, state: dict) -> nn.Module:
    module.load_state_dict(state["weights"])
    return module.to(memory_format=torch.channels_last) if state["channels_last"] else module


@register
class PooledLayers(_Network):
    """Every activation of a DCGAN-architecture conv stack (a discriminator's or an encoder's
    `features`), pooled (max to a grid x grid grid, or average), each layer L2-normalised,
    concatenated (chapter 4)."""

    kind = "pooled-layers"

    def __init__(self, stack: nn.Sequential, model_cfg: DCGANConfig, pool: str = "max", grid: int = 4,
                 layers: list[int] | None = None, device="auto", batch_size: int = 500):
        super().__init__(device, batch_size)
        self.stack, self.model_cfg, self.pool, self.grid, self.layers = stack, model_cfg, pool, grid, layers

    def transform(self, stored: np.ndarray) -> np.ndarray:
        pooled = layer_features(self.stack, self._images(stored), self.pool, self.grid, self.batch_size,
                                progress=False, device=self.device)
        return combine(pooled, self.layers)

    def state(self) -> dict:
        return {"model": vars(self.model_cfg).copy(), "pool": self.pool, "grid": self.grid,
                "layers": self.layers, **_weights(self.stack)}

    @classmethod
    def from_state(cls, state: dict) -> PooledLayers:
        cfg = DCGANConfig(**state["model"])
        stack = _restored(Discriminator(cfg).features, state)  # the encoders share this architecture
        return cls(stack, cfg, state["pool"], state["grid"], state["layers"])


@register
class EncoderCode(_Network):
    """The output code of an encoder with the discriminator's architecture (chapter 4)."""

    kind = "encoder-code"

    def __init__(self, encoder: Encoder, model_cfg: DCGANConfig, device="auto", batch_size: int = 1000):
        super().__init__(device, batch_size)
        self.encoder, self.model_cfg = encoder, model_cfg

    def transform(self, stored: np.ndarray) -> np.ndarray:
        return encode(self.encoder, self._images(stored), self.batch_size, self.device)

    def state(self) -> dict:
        return {"model": vars(self.model_cfg).copy(), "out_dim": self.encoder.out_dim,
                **_weights(self.encoder)}

    @classmethod
    def from_state(cls, state: dict) -> EncoderCode:
        cfg = DCGANConfig(**state["model"])
        return cls(_restored(Encoder(cfg, state["out_dim"]), state), cfg)


@register
class ClassifierFeatures(_Network):
    """The penultimate layer of the supervised classifier (the upper reference; chapters 3-5)."""

    kind = "classifier-features"

    def __init__(self, classifier: SmallCNN, device="auto", batch_size: int = 1000):
        super().__init__(device, batch_size)
        self.classifier = classifier

    def transform(self, stored: np.ndarray) -> np.ndarray:
        return quality.features(self.classifier, self._images(stored), self.batch_size, self.device)

    def state(self) -> dict:
        return {"config": self.classifier.config, **_weights(self.classifier)}

    @classmethod
    def from_state(cls, state: dict) -> ClassifierFeatures:
        return cls(_restored(SmallCNN(**state["config"]), state))
