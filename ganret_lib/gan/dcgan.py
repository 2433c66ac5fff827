"""DCGAN training (chapter 3): the training step, shown in full, run by the library's one loop.

The run directory holds what every run of `core.loop` holds (`config.json`, `stats.jsonl`,
`checkpoint.pt`) plus `samples.npz`: the generator's images of 64 fixed noise vectors every
`sample_every` steps, written by a callback. Every random draw of step s (the batch and the
noise) comes from the step's generator, so a run resumed from a checkpoint repeats exactly
the steps it would have taken without the interruption.
"""
from __future__ import annotations

import io
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..core.device import resolve_device
from ..core.loop import FitConfig, Fitter, Throughput, fit_or_load, step_generator
from ..core.runs import atomic_write_bytes
from . import losses
from .models import DCGANConfig, build_dcgan


@dataclass
class GANConfig:
    lr: float = 2e-4  # Adam, both players (Radford et al. 2016)
    beta1: float = 0.5  # Adam's beta1; the default 0.9 oscillates (Radford et al. 2016)
    g_loss: str = "non_saturating"  # see chapter 2
    sample_every: int = 250  # steps between fixed-noise samples
    channels_last: bool = True  # NHWC memory layout: 1.14x faster on 2 CPU cores (benchmarks/bench_train.py)


# Chapter 3 prints this function: its lines stay within 80 columns.
def dcgan_step(G, D, opt_g, opt_d, real: torch.Tensor, z: torch.Tensor,
               g_loss: str = "non_saturating") -> dict:
    """One step of Algorithm 1 of Goodfellow et al. (2014) with k = 1."""
    # (1) update D: maximise log D(x) + log(1 - D(G(z)))
    fake = G(z)
    real_logits, fake_logits = D(real), D(fake.detach())
    loss_d = losses.d_loss(real_logits, fake_logits)
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    # (2) update G: maximise log D(G(z)) (non-saturating; chapter 2)
    loss_g = losses.g_loss(D(fake), g_loss)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return {"d_loss": loss_d.detach(), "g_loss": loss_g.detach(),
            "d_real": torch.sigmoid(real_logits.detach()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach()).mean()}


class SampleGrid:
    """Callback (on_step_end): every `every` steps, G's images of `fixed_z` go into samples.npz."""

    def __init__(self, G: torch.nn.Module, fixed_z: torch.Tensor, every: int):
        self.G, self.fixed_z, self.every = G, fixed_z, every

    def __call__(self, fitter: Fitter) -> None:
        if fitter.step % self.every or fitter.rank > 0:  # one rank writes the samples
            return
        path = fitter.run_dir / "samples.npz"
        stored = dict(np.load(path)) if path.exists() else {}
        self.G.eval()
        with torch.no_grad():
            device = next(self.G.parameters()).device
            stored[f"step_{fitter.step}"] = self.G(self.fixed_z.to(device)).cpu().numpy().astype(np.float16)
        self.G.train()
        buffer = io.BytesIO()
        np.savez(buffer, **stored)
        atomic_write_bytes(path, buffer.getvalue())


def read_samples(run_dir) -> dict[int, np.ndarray]:
    """{step: float32 images (64, C, S, S) in [-1, 1]} of a DCGAN run directory."""
    with np.load(run_dir / "samples.npz") as stored:
        return {int(k.split("_")[1]): stored[k].astype(np.float32) for k in stored.files}


def dcgan_fitter(name: str, model_cfg: DCGANConfig, gan_cfg: GANConfig, fit_cfg: FitConfig,
                 images: torch.Tensor, device="auto", until: int | None = None, folder=None,
                 progress: bool = True) -> Fitter:
    """The DCGAN of these configs on `images` (gan form, (N, C, S, S)): trained, resumed or
    loaded from runs/<name>-<hash>/. `.modules["G"]`, `.modules["D"]`, `.run_dir`.

    `until` stops at that step (0: only build, and load if a checkpoint exists); `folder`
    replaces the run directory.
    """
    expected = (model_cfg.nc, model_cfg.image_size, model_cfg.image_size)
    if images.ndim != 4 or tuple(images.shape[1:]) != expected:
        raise ValueError(f"images must have shape (N, {', '.join(map(str, expected))}), got {tuple(images.shape)}; "
                         "convert stored uint8 images with ganret_lib.data.images.to_gan")
    device = resolve_device(device)
    G, D = build_dcgan(model_cfg, seed=fit_cfg.seed)
    fmt = torch.channels_last if gan_cfg.channels_last else torch.contiguous_format
    G, D = G.to(device, memory_format=fmt), D.to(device, memory_format=fmt)
    images = images.to(device).contiguous(memory_format=fmt)
    betas = (gan_cfg.beta1, 0.999)
    opt_g = torch.optim.Adam(G.parameters(), lr=gan_cfg.lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=gan_cfg.lr, betas=betas)
    fixed_z = torch.randn(64, model_cfg.nz, generator=step_generator(fit_cfg.seed, -1))

    def step(_, idx, g):
        z = torch.randn(len(idx), model_cfg.nz, generator=g)
        return dcgan_step(G, D, opt_g, opt_d, images[idx.to(device)], z.to(device), gan_cfg.g_loss)

    callbacks = Throughput().callbacks() | {"on_step_end": [SampleGrid(G, fixed_z, gan_cfg.sample_every)]}
    configs = {"model": asdict(model_cfg), "gan": asdict(gan_cfg)}
    return fit_or_load(name, {"G": G, "D": D}, {"adam_g": opt_g, "adam_d": opt_d}, step, len(images),
                       fit_cfg, configs, progress=progress, callbacks=callbacks, until=until, folder=folder)
