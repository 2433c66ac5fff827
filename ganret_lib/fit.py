"""Resumable training of any set of networks by a step function (chapters 4 and 5).

The DCGAN has its own trainer (`train.GANTrainer`, chapter 3), written out in full because the
book teaches it. The other networks (the autoencoder, the inversion encoder, the AFA-SVR cleaner)
share this one: the caller gives the modules, their optimisers and a `step_fn`; `Fitter` does the
rest as the GAN trainer does: `config.json` first, `stats.jsonl`, atomic checkpoints, a batch
order and random draws derived from (seed, step) so that a resumed run repeats exactly the steps
an uninterrupted one takes, and a `TrainingDiverged` stop that keeps the last good checkpoint.
"""
from __future__ import annotations

import io
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from .runs import atomic_write_bytes, run_dir
from .train import CheckpointError, TrainingDiverged, load_checkpoint_file

# step_fn(step, batch_indices, generator) -> {"loss name": scalar tensor}; it runs its own
# zero_grad / backward / optimiser steps and must draw all randomness from `generator`.
StepFn = Callable[[int, torch.Tensor, torch.Generator], dict]


@dataclass
class FitConfig:
    steps: int = 1000  # optimisation steps
    batch_size: int = 128
    checkpoint_every: int = 250  # steps between checkpoints
    log_every: int = 25  # steps between lines of stats.jsonl
    seed: int = 0


def _all_configs(cfg: FitConfig, n_items: int, configs: dict) -> dict:
    return {"fit": asdict(cfg), "n_items": n_items, **configs}


def _generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


class Fitter:
    """Run `step_fn` for `cfg.steps` steps over `n_items` training items, checkpointing `modules`."""

    def __init__(self, modules: dict[str, torch.nn.Module], optimisers: dict[str, torch.optim.Optimizer],
                 step_fn: StepFn, n_items: int, cfg: FitConfig, folder, configs: dict):
        if n_items < cfg.batch_size:
            raise ValueError(f"{n_items} training items are fewer than one batch ({cfg.batch_size})")
        self.modules, self.optimisers, self.step_fn = modules, optimisers, step_fn
        self.n_items, self.cfg, self.run_dir = n_items, cfg, Path(folder)
        self.configs = json.loads(json.dumps(_all_configs(cfg, n_items, configs)))
        self.step, self.train_seconds, self._order = 0, 0.0, (None, None)
        self._write_config()
        if self.checkpoint_path.exists():
            self.load_checkpoint()

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / "checkpoint.pt"

    def _write_config(self) -> None:
        path = self.run_dir / "config.json"
        if path.exists() and json.loads(path.read_text()) != self.configs:
            raise CheckpointError(f"{self.run_dir} holds a run with another configuration; "
                                  "use another run directory or delete this one")
        if not path.exists():
            atomic_write_bytes(path, json.dumps(self.configs, indent=1).encode())

    def save_checkpoint(self) -> None:
        state = {"modules": {k: m.state_dict() for k, m in self.modules.items()},
                 "optimisers": {k: o.state_dict() for k, o in self.optimisers.items()},
                 "step": self.step, "configs": self.configs, "train_seconds": self.train_seconds}
        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write_bytes(self.checkpoint_path, buffer.getvalue())

    def load_checkpoint(self) -> None:
        state = load_checkpoint_file(self.checkpoint_path)
        if state.get("configs") != self.configs:
            raise CheckpointError(f"{self.checkpoint_path} belongs to another configuration; "
                                  "use another run directory or delete this one")
        try:
            for k, m in self.modules.items():
                m.load_state_dict(state["modules"][k])
            for k, o in self.optimisers.items():
                o.load_state_dict(state["optimisers"][k])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"{self.checkpoint_path} does not match these networks ({exc}); "
                                  "delete it to train again") from exc
        self.step, self.train_seconds = state["step"], state["train_seconds"]
        stats = self.run_dir / "stats.jsonl"  # lines after the checkpoint will be logged again
        if stats.exists():
            kept = [line for line in stats.read_text().splitlines() if json.loads(line)["step"] <= self.step]
            atomic_write_bytes(stats, ("\n".join(kept) + "\n" if kept else "").encode())

    def _batch_indices(self) -> torch.Tensor:
        per_epoch = self.n_items // self.cfg.batch_size
        epoch, k = divmod(self.step, per_epoch)
        if self._order[0] != epoch:  # one permutation per epoch, derived from (seed, epoch)
            self._order = (epoch, torch.randperm(self.n_items, generator=_generator(self.cfg.seed, -2 - epoch)))
        return self._order[1][k * self.cfg.batch_size:(k + 1) * self.cfg.batch_size]

    def fit(self, progress: bool = True, desc: str = "training") -> "Fitter":
        for m in self.modules.values():
            m.train()
        bar = tqdm(total=self.cfg.steps, initial=self.step, desc=desc, disable=not progress, mininterval=2)
        pending = []
        while self.step < self.cfg.steps:
            started = time.perf_counter()
            stats = self.step_fn(self.step, self._batch_indices(), _generator(self.cfg.seed, self.step))
            self.train_seconds += time.perf_counter() - started
            self.step += 1
            if not all(torch.isfinite(v) for v in stats.values()):
                kept = load_checkpoint_file(self.checkpoint_path)["step"] if self.checkpoint_path.exists() else None
                raise TrainingDiverged(f"non-finite loss at step {self.step} ({ {k: float(v) for k, v in stats.items()} }); "
                                       f"the last good checkpoint (step {kept}) is kept in {self.run_dir}")
            pending.append(stats)
            if self.step % self.cfg.log_every == 0 or self.step == self.cfg.steps:
                record = {k: round(float(torch.stack([s[k].detach() for s in pending]).mean()), 5) for k in stats}
                with open(self.run_dir / "stats.jsonl", "a") as f:
                    f.write(json.dumps(record | {"step": self.step}) + "\n")
                pending = []
            if self.step % self.cfg.checkpoint_every == 0 or self.step == self.cfg.steps:
                self.save_checkpoint()
            bar.update(1)
        bar.close()
        for m in self.modules.values():
            m.eval()
        return self


def fit_or_load(name: str, modules: dict, optimisers: dict, step_fn: StepFn, n_items: int, cfg: FitConfig,
                configs: dict, progress: bool = True) -> Fitter:
    """The trained `modules` of these configs: loaded from runs/<name>-<hash>/, trained or resumed if needed."""
    folder = run_dir(name, _all_configs(cfg, n_items, configs))
    fitter = Fitter(modules, optimisers, step_fn, n_items, cfg, folder, configs)
    if fitter.step < cfg.steps:
        fitter.fit(progress=progress, desc=name)
    for m in modules.values():
        m.eval()
    return fitter
