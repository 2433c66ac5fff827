"""Reproducibility (every chapter): seeds, profiles, atomic writes and results records."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import subprocess
import sys
import time
from dataclasses import asdict, is_dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

PROFILES = ("smoke", "quick", "full")
RECORD_PACKAGES = ("torch", "torchvision", "faiss-cpu", "numpy", "scikit-learn", "ganret_lib")


def project_root(start: Path | None = None) -> Path:
    """The folder holding `_toc.yml` above `start` (default: the working directory), else the latter."""
    start = Path.cwd() if start is None else Path(start)
    for folder in (start, *start.resolve().parents):
        if (folder / "_toc.yml").is_file():
            return folder
    return start


def run_dir(name: str, configs: dict) -> Path:
    """runs/<name>-<hash of the configs>: one directory per distinct experiment."""
    key = hashlib.sha256(json.dumps(configs, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return project_root() / "runs" / f"{name}-{key}"


def seed_everything(seed: int, threads: int = 2) -> None:
    """Seed Python, NumPy and torch; deterministic algorithms; a fixed CPU thread count."""
    random.seed(seed)
    np.random.seed(seed)
    import torch

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)
    try:
        import faiss
        faiss.omp_set_num_threads(threads)
    except ImportError:
        pass


def profile_config(profile: str, configs: dict):
    """Pick the config of `profile` from {"smoke": ..., "quick": ..., "full": ...}."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use one of {PROFILES} "
                         "(smoke: seconds, quick: the default, full: the book's headline numbers)")
    return configs[profile]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
        return out.stdout.strip() or None
    except OSError:
        return None


def provenance(seed: int, wall_s: float) -> dict:
    versions = {"python": platform.python_version()}
    for name in RECORD_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    hardware = {"machine": platform.machine(), "cpu_count": os.cpu_count()}
    if "torch" in sys.modules:
        import torch
        hardware["torch_threads"] = torch.get_num_threads()
        hardware["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"seed": seed, "versions": versions, "hardware": hardware,
            "commit": _git_commit(project_root()), "wall_s": round(wall_s, 1),
            "date": time.strftime("%Y-%m-%d")}


def write_results(chapter: str, profile: str, protocol: dict, rows: list[dict], seed: int,
                  wall_s: float, config=None, **extra) -> Path:
    """Write data/results/<profile>/<chapter>.json, the one shape every chapter uses."""
    for row in rows:
        missing = {"method", "label_free"} - row.keys()
        if missing:
            raise ValueError(f"results row {row.get('method', row)} lacks {sorted(missing)}")
    record = {"chapter": chapter, "profile": profile, "protocol": protocol, "rows": rows,
              "config": asdict(config) if is_dataclass(config) else config, **extra,
              "provenance": provenance(seed, wall_s)}
    path = project_root() / "data" / "results" / profile / f"{chapter}.json"
    atomic_write_bytes(path, (json.dumps(record, indent=1) + "\n").encode())
    return path


def read_results(chapter: str, profile: str) -> dict:
    path = project_root() / "data" / "results" / profile / f"{chapter}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no results record {path}; run the chapter '{chapter}' with "
                                f"profile={profile!r} to produce it")
    return json.loads(path.read_text())
