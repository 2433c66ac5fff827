"""`ganret index`, `query` and `info`: a folder indexed with a fitted model, searched with images.

`build_index` streams the folder in batches (memory bounded by one batch of images), writes each
batch's vectors to `<index>.partial/` as it goes, and writes the index file once, atomically, at
the end; run again after an interrupt, it resumes from the batches already written (or restarts,
saying why, when the model or the folder changed). The index stores the images' paths relative
to the folder, the folder, the model file (relative to the index) and the model's identity, so
that a query is always described by the model that filled the index.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..core.runs import atomic_write_bytes
from ..data import folder
from ..retrieval.index import Index, IndexFileError
from . import model as models

KINDS = {"flat": "flat", "hnsw": "hnsw", "ivf": "ivf", "ivfpq": "pq"}  # command name -> Index kind
METRIC = "cosine"  # chapter 4's metric for this descriptor


def auto_kind(n: int) -> str:
    """Exact search while it is cheap, then a graph, then compressed codes (chapter 4's comparison)."""
    return "flat" if n < 100_000 else "hnsw" if n < 1_000_000 else "ivfpq"


@dataclass
class Built:
    path: Path
    n: int
    kind: str
    skipped: list[tuple[str, str]]
    resumed_batches: int


def _manifest(root: Path, files: list[str], model: models.Model, batch_size: int) -> dict:
    listing = hashlib.sha256("\n".join(files).encode()).hexdigest()[:16]
    return {"model": model.identity, "root": str(root.resolve()), "files": listing, "batch_size": batch_size}


def _partial(out: Path, manifest: dict, log) -> Path:
    """The folder of finished batches; emptied when it belongs to another model or folder."""
    partial = out.with_name(out.name + ".partial")
    marker = partial / "manifest.json"
    if partial.exists():
        try:
            same = json.loads(marker.read_text()) == manifest
        except (OSError, ValueError):
            same = False
        if not same:
            log(f"{partial} belongs to another model, folder or batch size: restarting the index")
            shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(marker, json.dumps(manifest).encode())
    return partial


def _save_batch(path: Path, vectors: np.ndarray, batch: folder.Batch) -> None:
    meta = json.dumps({"paths": batch.paths, "skipped": batch.skipped}).encode()
    buffer = io.BytesIO()
    np.savez(buffer, vectors=vectors, meta=np.frombuffer(meta, dtype=np.uint8))
    atomic_write_bytes(path, buffer.getvalue())


def _load_batch(path: Path) -> tuple[np.ndarray, dict]:
    with np.load(path, allow_pickle=False) as stored:
        return stored["vectors"], json.loads(stored["meta"].tobytes())


def build_index(root, model_path, out, kind: str = "auto", batch_size: int = 256, progress: bool = True,
                log=print) -> Built:
    """Index every readable image under `root` with the model at `model_path`; write `out`."""
    root, out = Path(root), Path(out)
    if kind != "auto" and kind not in KINDS:
        raise ValueError(f"unknown index type {kind!r}; use auto or one of {sorted(KINDS)}")
    model = models.load(model_path)
    files = folder.list_files(root)
    partial = _partial(out, _manifest(root, files, model, batch_size), log)
    s = model.settings
    paths, vectors, skipped, resumed = [], [], [], 0
    steps = range(0, len(files), batch_size)
    for number, lo in enumerate(tqdm(steps, desc="indexing", unit="batch", disable=not progress, mininterval=2)):
        done = partial / f"batch-{number:06d}.npz"
        if not done.exists():
            batch = next(folder.batches(root, files[lo:lo + batch_size], s.size, s.channels, batch_size))
            found = model.transform(batch.images) if batch.paths else np.empty((0, 0), np.float32)
            _save_batch(done, found, batch)
        else:
            resumed += 1
        found, saved = _load_batch(done)
        paths += saved["paths"]
        skipped += [tuple(x) for x in saved["skipped"]]
        if saved["paths"]:
            vectors.append(found.astype(np.float32))
    if not paths:
        shutil.rmtree(partial)
        raise folder.FolderError(f"none of the {len(files)} files in {root} is a readable image "
                                 f"(first: {skipped[0][0]}: {skipped[0][1]})")
    x = np.concatenate(vectors)
    chosen = auto_kind(len(x)) if kind == "auto" else kind
    index = Index.build(x, METRIC, KINDS[chosen])
    index.extra = {"paths": paths, "root": str(root.resolve()), "skipped": len(skipped),
                   "model": os.path.relpath(Path(model_path).resolve(), out.resolve().parent),
                   "model_identity": model.identity, "image": {"size": s.size, "channels": s.channels},
                   "descriptor": f"{s.pipeline} pipeline, {model.training['steps']} steps on "
                                 f"{model.training['images']} images, PCA to {index.d}",
                   "command_kind": chosen}
    index.save(out, descriptor=model.identity)
    shutil.rmtree(partial)
    return Built(out, len(x), chosen, skipped, resumed)


def open_index(path, model_path=None) -> tuple[Index, models.Model]:
    """A `ganret index` file and the model that belongs to it (its own, or `model_path`, checked)."""
    path = Path(path)
    index = Index.load(path)
    if "model_identity" not in index.extra:
        raise IndexFileError(f"{path} is a ganret index but not one `ganret index` wrote (no image paths)")
    model_path = Path(model_path) if model_path else path.resolve().parent / index.extra["model"]
    model = models.load(model_path)
    if model.identity != index.extra["model_identity"]:
        raise IndexFileError(f"{path} was built with model {index.extra['model_identity']}, but {model_path} is "
                             f"{model.identity}: the two do not belong together; query with the model that "
                             "built the index, or index the folder again with this one")
    return index, model


def query(index_path, image_paths: list, k: int = 10, model_path=None) -> list[dict]:
    """The k nearest indexed images of each query image (read by the model's rule)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    index, model = open_index(index_path, model_path)
    s = model.settings
    stored = np.stack([folder.read_image(p, s.size, s.channels) for p in image_paths])
    distances, ids = index.search(model.transform(stored), min(k, index.ntotal), progress=False)
    root, paths = Path(index.extra["root"]), index.extra["paths"]
    return [{"query": str(q), "results": [{"rank": r + 1, "path": paths[i], "file": str(root / paths[i]),
                                           "distance": round(float(d), 6)}
                                          for r, (d, i) in enumerate(zip(drow, irow)) if i >= 0]}
            for q, drow, irow in zip(image_paths, distances, ids)]


def info(index_path) -> dict:
    """What a `ganret index` file holds, without loading its model."""
    index = Index.load(index_path)
    extra = index.extra
    return {"index": str(index_path), "images": index.ntotal, "type": extra.get("command_kind", index.kind),
            "dimensions": index.d, "metric": index.metric, "descriptor": extra.get("descriptor"),
            "model": extra.get("model"),
            "model_identity": extra.get("model_identity"), "folder": extra.get("root"),
            "image_rule": extra.get("image"), "skipped_files": extra.get("skipped"), "saved": index.saved}
