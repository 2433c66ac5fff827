"""GAN training that can be trusted: resumable, logged, checkpointed atomically (chapter 3).

A run directory holds `config.json` (written first), `stats.jsonl` (one line per logged step),
`samples.npz` (fixed-noise samples at intervals) and `checkpoint.pt` (models, optimisers,
configs, step, RNG state). Every random draw of step s (the batch and the noise) comes from a
generator seeded by (seed, s), so a run resumed from a checkpoint repeats exactly the steps it
would have taken without the interruption.
"""
from __future__ import annotations

import io
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from . import losses
from .models import DCGANConfig, build_dcgan
from .runs import atomic_write_bytes, run_dir


class CheckpointError(RuntimeError):
    """A checkpoint is unreadable or belongs to another configuration."""


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class TrainConfig:
    steps: int = 2000  # generator steps (one discriminator step each)
    batch_size: int = 128  # Radford et al. 2016
    lr: float = 2e-4  # Adam, both players (Radford et al. 2016)
    beta1: float = 0.5  # Adam's beta1; the default 0.9 oscillates (Radford et al. 2016)
    g_loss: str = "non_saturating"  # see chapter 2
    checkpoint_every: int = 250  # steps between checkpoints
    sample_every: int = 250  # steps between fixed-noise samples
    log_every: int = 25  # steps between lines of stats.jsonl
    channels_last: bool = True  # NHWC memory layout: 1.14x faster on 2 CPU cores (benchmarks/bench_train.py)
    seed: int = 0


def to_gan_images(images: np.ndarray, size: int = 32) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, size, size) in [-1, 1], zero-padded to `size` (32)."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"expected uint8 images of shape (N, H, W), got {images.dtype} {images.shape}")
    pad = size - images.shape[1]
    if pad < 0 or pad % 2:
        raise ValueError(f"cannot pad {images.shape[1]}x{images.shape[2]} images to {size}x{size}")
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0).unsqueeze(1)
    return torch.nn.functional.pad(x, (pad // 2,) * 4, value=-1.0)


def _step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


class GANTrainer:
    """Alternating training of a DCGAN pair on `images` ((N, C, S, S) in [-1, 1])."""

    def __init__(self, model_cfg: DCGANConfig, train_cfg: TrainConfig, images: torch.Tensor, run_dir):
        expected = (model_cfg.nc, model_cfg.image_size, model_cfg.image_size)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(f"images must have shape (N, {', '.join(map(str, expected))}), got {tuple(images.shape)}")
        if len(images) < train_cfg.batch_size:
            raise ValueError(f"{len(images)} images are fewer than one batch ({train_cfg.batch_size})")
        self.model_cfg, self.cfg = model_cfg, train_cfg
        self.run_dir = Path(run_dir)
        self.G, self.D = build_dcgan(model_cfg, seed=train_cfg.seed)
        fmt = torch.channels_last if train_cfg.channels_last else torch.contiguous_format
        self.G, self.D, self.images = self.G.to(memory_format=fmt), self.D.to(memory_format=fmt), images.contiguous(memory_format=fmt)
        self._order = (None, None)  # (epoch, permutation) of the current epoch
        betas = (train_cfg.beta1, 0.999)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=train_cfg.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=train_cfg.lr, betas=betas)
        self.fixed_z = torch.randn(64, model_cfg.nz, generator=_step_generator(train_cfg.seed, -1))
        self.step = 0
        self.train_seconds = 0.0  # time spent in training steps, over all sessions of this run
        self._write_config()
        if self.checkpoint_path.exists():
            self.load_checkpoint()

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / "checkpoint.pt"

    def _configs(self) -> dict:
        return {"model": asdict(self.model_cfg), "train": asdict(self.cfg)}

    def _write_config(self) -> None:
        path = self.run_dir / "config.json"
        if path.exists():
            stored = json.loads(path.read_text())
            if stored != json.loads(json.dumps(self._configs())):
                raise CheckpointError(f"{self.run_dir} holds a run with another configuration: {stored}; "
                                      "use another run directory or delete this one")
        else:
            atomic_write_bytes(path, json.dumps(self._configs(), indent=1).encode())

    # -- checkpoints ---------------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        state = {"G": self.G.state_dict(), "D": self.D.state_dict(), "opt_g": self.opt_g.state_dict(),
                 "opt_d": self.opt_d.state_dict(), "step": self.step, "configs": self._configs(),
                 "train_seconds": self.train_seconds,
                 "torch_rng": torch.get_rng_state()}
        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write_bytes(self.checkpoint_path, buffer.getvalue())

    def load_checkpoint(self) -> None:
        state = load_checkpoint_file(self.checkpoint_path)
        if state["configs"] != json.loads(json.dumps(self._configs())):
            raise CheckpointError(f"{self.checkpoint_path} was trained with {state['configs']}, not "
                                  f"{self._configs()}; use another run directory or delete this one")
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        torch.set_rng_state(state["torch_rng"])
        self.step = state["step"]
        self.train_seconds = state.get("train_seconds", 0.0)
        self._truncate_logs()

    def _truncate_logs(self) -> None:
        """Drop stats logged after the checkpoint: they will be logged again."""
        stats = self.run_dir / "stats.jsonl"
        if stats.exists():
            kept = [line for line in stats.read_text().splitlines() if json.loads(line)["step"] <= self.step]
            atomic_write_bytes(stats, ("\n".join(kept) + "\n" if kept else "").encode())

    # -- training ------------------------------------------------------------------------------
    def _batch(self) -> torch.Tensor:
        n, b = len(self.images), self.cfg.batch_size
        per_epoch = n // b
        epoch, k = divmod(self.step, per_epoch)
        if self._order[0] != epoch:  # a permutation per epoch, derived from (seed, epoch): resumable
            self._order = (epoch, torch.randperm(n, generator=_step_generator(self.cfg.seed, -2 - epoch)))
        return self.images[self._order[1][k * b:(k + 1) * b]]

    def train_step(self) -> dict:
        """One discriminator step and one generator step (Algorithm 1 with k = 1)."""
        g = _step_generator(self.cfg.seed, self.step)
        real = self._batch()
        z = torch.randn(len(real), self.model_cfg.nz, generator=g)
        fake = self.G(z)
        real_logits, fake_logits = self.D(real), self.D(fake.detach())
        loss_d = losses.d_loss(real_logits, fake_logits)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        fake_logits_g = self.D(fake)
        loss_g = losses.g_loss(fake_logits_g, self.cfg.g_loss)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.step += 1
        return {"d_loss": loss_d.detach(), "g_loss": loss_g.detach(),
                "d_real": torch.sigmoid(real_logits.detach()).mean(), "d_fake": torch.sigmoid(fake_logits.detach()).mean()}

    def train(self, until: int | None = None, progress: bool = True) -> "GANTrainer":
        """Train up to step `until` (default: the configured steps), resuming where the run stopped."""
        until = self.cfg.steps if until is None else min(until, self.cfg.steps)
        self.G.train(), self.D.train()
        bar = tqdm(total=until, initial=self.step, desc="DCGAN training", disable=not progress, mininterval=2)
        last_log, tick = [], time.perf_counter()
        while self.step < until:
            started = time.perf_counter()
            stats = self.train_step()
            self.train_seconds += time.perf_counter() - started
            last_log.append(stats)
            if not all(torch.isfinite(v) for v in stats.values()):
                raise TrainingDiverged(
                    f"non-finite loss at step {self.step} ({ {k: v.item() for k, v in stats.items()} }); "
                    f"the last good checkpoint (step {self._checkpoint_step()}) is kept in {self.run_dir}. "
                    "Lower the learning rate or check the input scaling ([-1, 1]), then resume.")
            if self.step % self.cfg.log_every == 0 or self.step == until:
                elapsed = time.perf_counter() - tick
                self._log({k: float(torch.stack([s[k] for s in last_log]).mean()) for k in stats}
                          | {"step": self.step, "images_per_s": len(last_log) * self.cfg.batch_size / elapsed})
                last_log, tick = [], time.perf_counter()
            if self.step % self.cfg.sample_every == 0:
                self._save_samples()
            if self.step % self.cfg.checkpoint_every == 0 or self.step == until:
                self.save_checkpoint()
            bar.update(1)
        bar.close()
        self.G.eval(), self.D.eval()
        return self

    def _checkpoint_step(self) -> int | None:
        if not self.checkpoint_path.exists():
            return None
        return load_checkpoint_file(self.checkpoint_path)["step"]

    def _log(self, record: dict) -> None:
        with open(self.run_dir / "stats.jsonl", "a") as f:
            f.write(json.dumps({k: round(v, 5) if isinstance(v, float) else v for k, v in record.items()}) + "\n")

    def _save_samples(self) -> None:
        path = self.run_dir / "samples.npz"
        stored = dict(np.load(path)) if path.exists() else {}
        self.G.eval()
        with torch.no_grad():
            stored[f"step_{self.step}"] = self.G(self.fixed_z).numpy().astype(np.float16)
        self.G.train()
        buffer = io.BytesIO()
        np.savez(buffer, **stored)
        atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint_file(path: Path) -> dict:
    """Read a checkpoint with weights_only=True; unreadable files give a CheckpointError."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, wrong format, or unexpected objects
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc}); "
                              "delete it to train again from the start") from exc


def read_stats(run_dir) -> list[dict]:
    path = Path(run_dir) / "stats.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def train_or_load(name: str, model_cfg: DCGANConfig, train_cfg: TrainConfig, images: torch.Tensor,
                  progress: bool = True) -> GANTrainer:
    """The trained DCGAN of these configs: loaded from its run directory, trained (or resumed) if needed."""
    configs = {"model": asdict(model_cfg), "train": asdict(train_cfg)}
    trainer = GANTrainer(model_cfg, train_cfg, images, run_dir(name, configs))
    if trainer.step < train_cfg.steps:
        trainer.train(progress=progress)
    trainer.G.eval(), trainer.D.eval()
    return trainer
