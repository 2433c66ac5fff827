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


HOME_ENV = "GANRET_HOME"
HOME_FOLDER = "ganret_home"  # created under the working directory when nothing else says where
_announced: set[Path] = set()


def project_root(start: Path | None = None) -> Path:
    """Where records (data/results/), caches (data/) and run folders (runs/) live:
    1. inside a ganret checkout, the checkout (the folder above `start`, default the working
       directory, that holds `_toc.yml`);
    2. elsewhere (the library installed from a wheel or a git URL, as on Colab), $GANRET_HOME;
    3. else <working directory>/ganret_home.
    Outside a checkout the folder is printed once, so a reader knows where results went."""
    start = Path.cwd() if start is None else Path(start)
    for folder in (start, *start.resolve().parents):
        if (folder / "_toc.yml").is_file():
            return folder
    env = os.environ.get(HOME_ENV)
    home = (Path(env).expanduser() if env else start / HOME_FOLDER).resolve()
    if home not in _announced:
        _announced.add(home)
        how = f"${HOME_ENV}" if env else f"set {HOME_ENV} to choose another folder"
        print(f"ganret_lib: not inside a ganret checkout; records, caches and run folders go to {home} ({how})")
    return home


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


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else None
    except OSError:
        return None


def _git_commit(root: Path) -> str | None:
    return _git(root, "rev-parse", "HEAD") or None


def _git_dirty(root: Path, chapter: str | None = None) -> bool | None:
    """Whether the library, or the chapter's source (notebooks/NN_*.py), differs from the commit
    (None outside git). Other chapters' files, and executed notebooks, say nothing about this run."""
    sources = [f"notebooks/{chapter.split('_')[0]}_*.py"] if chapter else ["notebooks"]
    status = _git(root, "status", "--porcelain", "--untracked-files=no", "--", "ganret_lib", *sources)
    return None if status is None else bool(status)


def library_source() -> dict:
    """For a ganret_lib that pip installed from a git URL (Colab's install cell): that URL and the
    commit pip resolved (PEP 610's direct_url.json); {} for a checkout, a wheel or an editable install."""
    try:
        direct = metadata.distribution("ganret_lib").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        direct = None
    info = json.loads(direct) if direct else {}
    if "vcs_info" not in info:  # local installs would only name a local path
        return {}
    return {"url": info.get("url"), "commit": info["vcs_info"].get("commit_id")}


def cpu_model() -> str | None:
    """The processor's name: BLAS picks its kernels by it, so numbers repeat bit for bit only on the same one."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


SIMD_LEVELS = ("avx512f", "avx2", "avx", "sse4_2")  # the widest first


def simd_level(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The widest vector instructions the processor offers: torch (oneDNN) and faiss choose their
    kernels by it, so two processors with the same name but another level round differently."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return next((level for level in SIMD_LEVELS if level in flags), "none")
    except OSError:
        pass
    return None


def provenance(seed: int, wall_s: float, chapter: str | None = None) -> dict:
    versions = {"python": platform.python_version()}
    for name in RECORD_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    hardware = {"machine": platform.machine(), "cpu": cpu_model(), "simd": simd_level(),
                "cpu_count": os.cpu_count()}
    if "torch" in sys.modules:
        import torch
        hardware["torch_threads"] = torch.get_num_threads()
        hardware["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    root = project_root()
    in_checkout = (root / "_toc.yml").is_file()  # elsewhere git would describe some other repository
    return {"seed": seed, "versions": versions, "hardware": hardware,
            "commit": _git_commit(root) if in_checkout else None,
            "dirty": _git_dirty(root, chapter) if in_checkout else None,
            "library": library_source(),
            "wall_s": round(wall_s, 1),
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
              "provenance": provenance(seed, wall_s, chapter)}
    path = results_path(chapter, profile, seed)
    atomic_write_bytes(path, (json.dumps(record, indent=1) + "\n").encode())
    return path


RESULTS_ENV = "GANRET_RESULTS"  # another results folder: `make reproduce` and `make test` write there


def results_root() -> Path:
    """data/results/ of the home, or $GANRET_RESULTS (so that a re-run leaves the committed records alone)."""
    env = os.environ.get(RESULTS_ENV)
    return Path(env) if env else project_root() / "data" / "results"


def results_path(chapter: str, profile: str, seed: int = 0) -> Path:
    """<results>/<profile>/<chapter>.json for seed 0 (the book's numbers); other seeds, run to
    measure training noise (`make seeds`), go to <results>/<profile>/seeds/<chapter>-seed<N>.json."""
    folder = results_root() / profile
    return folder / f"{chapter}.json" if seed == 0 else folder / "seeds" / f"{chapter}-seed{seed}.json"


def shown(path: Path) -> Path:
    """`path` relative to the home when it lies inside it (what a chapter prints), else as it is."""
    path = Path(path)
    return path.relative_to(project_root()) if path.is_relative_to(project_root()) else path


def read_results(chapter: str, profile: str, seed: int = 0, missing_ok: bool = False) -> dict:
    """The record of a chapter, profile and seed; with `missing_ok`, {} when there is none."""
    path = results_path(chapter, profile, seed)
    if not path.is_file():
        if missing_ok:
            return {}
        raise FileNotFoundError(f"no results record {path}; run the chapter '{chapter}' with "
                                f"profile={profile!r}, seed={seed} to produce it")
    return json.loads(path.read_text())


def seed_records(chapter: str, profile: str) -> dict[int, dict]:
    """{seed: record} of every seed of a chapter and profile that has a record, seed 0 first."""
    folder = results_root() / profile / "seeds"
    seeds = sorted(int(p.stem.rsplit("-seed", 1)[1]) for p in folder.glob(f"{chapter}-seed*.json"))
    found = [0] if results_path(chapter, profile).is_file() else []
    return {s: read_results(chapter, profile, s) for s in found + seeds}
