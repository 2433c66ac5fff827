"""The one training loop: every network of the book trains through `Fitter` (chapter 3 shows it).

The caller gives the modules, their optimisers and a `step_fn`; `Fitter` does the rest:
`config.json` written first (`write_config`), `stats.jsonl` (one line per `log_every` steps),
atomic checkpoints of modules, optimisers, step and RNG state (`save_checkpoint`), exact resume,
and a `TrainingDiverged` stop that keeps the last good checkpoint. Every random draw of step s
(the batch order and the step's noise) comes from `step_generator(seed, s)` or the epoch's
permutation, so a run resumed from a checkpoint repeats exactly the steps an uninterrupted run
takes. Anything else (throughput, sample grids) is a callback on one of `EVENTS`, as in minGPT.
Under `torchrun` the same loop trains data-parallel (`distributed`): each rank takes its share
of every batch and its own noise, and the ranks average gradients before each optimiser step.
"""
from __future__ import annotations

import io
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from . import distributed
from .runs import atomic_write_bytes, run_dir

# step_fn(step, batch_indices, generator) -> {"loss name": scalar tensor}; it runs its own
# zero_grad / backward / optimiser steps and draws all its randomness from `generator`.
StepFn = Callable[[int, torch.Tensor, torch.Generator], dict]
Callback = Callable[["Fitter"], None]
# on_fit_start; on_step_end (after every step); on_log (may add keys to fitter.log_record);
# on_fit_end
EVENTS = ("on_fit_start", "on_step_end", "on_log", "on_fit_end")


class CheckpointError(RuntimeError):
    """A checkpoint is unreadable or belongs to another configuration or other networks."""


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class FitConfig:
    steps: int = 1000  # optimisation steps
    batch_size: int = 128
    checkpoint_every: int = 250  # steps between checkpoints
    log_every: int = 25  # steps between lines of stats.jsonl
    seed: int = 0


def step_generator(seed: int, step: int, rank: int = 0) -> torch.Generator:
    """The generator of step `step`'s random draws (on rank `rank` of a data-parallel run);
    negative steps name fixed draws (-1: fixed sample noise, -2 - e: the permutation of epoch e)."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step + rank * 2**40)


def epoch_permutation(n_items: int, seed: int, epoch: int) -> torch.Tensor:
    """The order in which epoch `epoch` visits the training items."""
    return torch.randperm(n_items, generator=step_generator(seed, -2 - epoch))


def _as_json(configs: dict) -> dict:
    return json.loads(json.dumps(configs, default=str))


def write_config(folder: Path, configs: dict) -> None:
    """Write `config.json` first; a folder holding another configuration is an error."""
    path = Path(folder) / "config.json"
    if path.exists():
        if json.loads(path.read_text()) != _as_json(configs):
            raise CheckpointError(f"{folder} holds a run with another configuration; "
                                  "use another run directory or delete this one")
        return
    atomic_write_bytes(path, json.dumps(_as_json(configs), indent=1).encode())


def save_checkpoint(path: Path, state: dict) -> None:
    """torch.save to a temporary file, then rename: an interrupt never leaves half a checkpoint."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict:
    """Read a checkpoint with weights_only=True; unreadable files give a CheckpointError."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, wrong format, or unexpected objects
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc}); "
                              "delete it to train again from the start") from exc


def read_stats(folder) -> list[dict]:
    path = Path(folder) / "stats.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


class Fitter:
    """Run `step_fn` for `cfg.steps` steps over `n_items` training items, checkpointing `modules`.

    `configs` (with `cfg` and `n_items`) is the run's identity, stored in `config.json` and in
    every checkpoint. `permutation(epoch)` gives each epoch's item order (default:
    `epoch_permutation`). Modules and optimisers must already live on their device.
    """

    def __init__(self, modules: dict[str, torch.nn.Module], optimisers: dict[str, torch.optim.Optimizer],
                 step_fn: StepFn, n_items: int, cfg: FitConfig, folder, configs: dict,
                 permutation: Callable[[int], torch.Tensor] | None = None):
        if n_items < cfg.batch_size:
            raise ValueError(f"{n_items} training items are fewer than one batch ({cfg.batch_size})")
        self.rank, self.world = distributed.rank_and_world()
        if cfg.batch_size % self.world:
            raise ValueError(f"a batch of {cfg.batch_size} cannot be shared by {self.world} processes")
        self.modules, self.optimisers, self.step_fn = modules, optimisers, step_fn
        self.n_items, self.cfg, self.run_dir = n_items, cfg, Path(folder)
        self.configs = _as_json(identity(cfg, n_items, configs))
        self.permutation = permutation or (lambda epoch: epoch_permutation(n_items, cfg.seed, epoch))
        self.step, self.train_seconds, self._order = 0, 0.0, (None, None)
        self.callbacks: dict[str, list[Callback]] = defaultdict(list)
        self.log_record: dict = {}
        if self.rank == 0:
            write_config(self.run_dir, self.configs)
        distributed.barrier()
        if self.world > 1:  # every rank starts from rank 0's weights and averages its gradients
            distributed.broadcast_from_main(self.modules.values())
            for opt in self.optimisers.values():
                distributed.average_gradients(opt)
        if self.checkpoint_path.exists():
            self.load()

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / "checkpoint.pt"

    # -- callbacks ------------------------------------------------------------------------------
    def add_callback(self, event: str, callback: Callback) -> Fitter:
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; use one of {EVENTS}")
        self.callbacks[event].append(callback)
        return self

    def trigger_callbacks(self, event: str) -> None:
        for callback in self.callbacks[event]:
            callback(self)

    # -- checkpoints ----------------------------------------------------------------------------
    def save(self) -> None:
        """Rank 0 writes the checkpoint; every rank waits until it is there."""
        if self.rank == 0:
            self._write_checkpoint()
        distributed.barrier()

    def _write_checkpoint(self) -> None:
        save_checkpoint(self.checkpoint_path, {
            "modules": {k: m.state_dict() for k, m in self.modules.items()},
            "optimisers": {k: o.state_dict() for k, o in self.optimisers.items()},
            "step": self.step, "configs": self.configs, "train_seconds": self.train_seconds,
            "torch_rng": torch.get_rng_state()})

    def load(self) -> None:
        state = load_checkpoint(self.checkpoint_path)
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
        torch.set_rng_state(state["torch_rng"])
        self.step, self.train_seconds = state["step"], state["train_seconds"]
        stats = self.run_dir / "stats.jsonl"  # lines after the checkpoint will be logged again
        if stats.exists() and self.rank == 0:
            kept = [line for line in stats.read_text().splitlines() if json.loads(line)["step"] <= self.step]
            atomic_write_bytes(stats, ("\n".join(kept) + "\n" if kept else "").encode())

    # -- training -------------------------------------------------------------------------------
    def _batch_indices(self) -> torch.Tensor:
        per_epoch = self.n_items // self.cfg.batch_size
        epoch, k = divmod(self.step, per_epoch)
        if self._order[0] != epoch:
            self._order = (epoch, self.permutation(epoch))
        batch = self._order[1][k * self.cfg.batch_size:(k + 1) * self.cfg.batch_size]
        return batch[self.rank::self.world]  # this rank's share

    def _check_finite(self, stats: dict) -> None:
        if all(torch.isfinite(v) for v in stats.values()):
            return
        kept = load_checkpoint(self.checkpoint_path)["step"] if self.checkpoint_path.exists() else None
        values = {k: float(v) for k, v in stats.items()}
        raise TrainingDiverged(f"non-finite loss at step {self.step} ({values}); the last good checkpoint "
                               f"(step {kept}) is kept in {self.run_dir}. Lower the learning rate or check "
                               "the input scaling, then resume.")

    def _log(self, pending: list[dict]) -> None:
        self.log_record = {k: round(float(torch.stack([s[k].detach() for s in pending]).mean()), 5)
                           for k in pending[0]} | {"step": self.step}
        self.trigger_callbacks("on_log")
        if self.rank == 0:  # rank 0's share of the batches stands for the run
            with open(self.run_dir / "stats.jsonl", "a") as f:
                f.write(json.dumps(self.log_record) + "\n")

    def fit(self, until: int | None = None, progress: bool = True, desc: str = "training") -> Fitter:
        """Train up to step `until` (default: all steps), resuming where the run stopped."""
        until = self.cfg.steps if until is None else min(until, self.cfg.steps)
        for m in self.modules.values():
            m.train()
        bar = tqdm(total=until, initial=self.step, desc=desc, disable=not progress or self.rank > 0, mininterval=2)
        self.trigger_callbacks("on_fit_start")
        pending = []
        while self.step < until:
            started = time.perf_counter()
            stats = self.step_fn(self.step, self._batch_indices(), step_generator(self.cfg.seed, self.step, self.rank))
            if self.world > 1:  # batch-norm statistics as rank 0 measured them
                distributed.broadcast_from_main(self.modules.values(), buffers_only=True)
            self.train_seconds += time.perf_counter() - started
            self.step += 1
            self._check_finite(stats)
            pending.append(stats)
            if self.step % self.cfg.log_every == 0 or self.step == until:
                self._log(pending)
                pending = []
            self.trigger_callbacks("on_step_end")
            if self.step % self.cfg.checkpoint_every == 0 or self.step == until:
                self.save()
            bar.update(1)
        bar.close()
        for m in self.modules.values():
            m.eval()
        self.trigger_callbacks("on_fit_end")
        return self


def identity(cfg: FitConfig, n_items: int, configs: dict) -> dict:
    """Everything that changes a run's result: the loop's settings, the data size, the rest."""
    return {"fit": asdict(cfg), "n_items": n_items, **configs}


def fit_or_load(name: str, modules: dict, optimisers: dict, step_fn: StepFn, n_items: int, cfg: FitConfig,
                configs: dict, progress: bool = True, callbacks: dict | None = None,
                permutation: Callable[[int], torch.Tensor] | None = None, until: int | None = None,
                folder=None) -> Fitter:
    """The trained `modules` of these configs: loaded from runs/<name>-<hash>/ (or `folder`),
    trained or resumed up to step `until` (default: all; 0 only loads) if needed.
    `callbacks` maps an event to a list of callbacks."""
    folder = run_dir(name, identity(cfg, n_items, configs)) if folder is None else folder
    fitter = Fitter(modules, optimisers, step_fn, n_items, cfg, folder, configs, permutation=permutation)
    for event, fns in (callbacks or {}).items():
        for fn in fns:
            fitter.add_callback(event, fn)
    until = cfg.steps if until is None else until
    if fitter.step < until:
        fitter.fit(until=until, progress=progress, desc=name)
    for m in modules.values():
        m.eval()
    return fitter


class Throughput:
    """Adds `images_per_s` to each logged line: training items per second of wall time since the
    previous line (checkpoints included). `callbacks()` gives its hooks for `fit_or_load`."""

    def __init__(self):
        self.tick, self.step = 0.0, 0

    def start(self, fitter: Fitter) -> None:
        self.tick, self.step = time.perf_counter(), fitter.step

    def log(self, fitter: Fitter) -> None:
        now = time.perf_counter()
        items = (fitter.step - self.step) * fitter.cfg.batch_size
        fitter.log_record["images_per_s"] = round(items / max(now - self.tick, 1e-9), 5)
        self.tick, self.step = now, fitter.step

    def callbacks(self) -> dict:
        return {"on_fit_start": [self.start], "on_log": [self.log]}
