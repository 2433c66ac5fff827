"""A cache of computed arrays under data/cache/, keyed by a hash of their inputs (stylegan2-ada's
atomic, input-keyed cache)."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable

import numpy as np

from .runs import atomic_write_bytes, project_root


def cache_key(name: str, params: dict, inputs: dict[str, np.ndarray]) -> str:
    """SHA-256 over the name, the JSON of the parameters and every input array's bytes."""
    h = hashlib.sha256(name.encode())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    for key in sorted(inputs):
        arr = np.ascontiguousarray(inputs[key])
        h.update(f"{key}{arr.dtype}{arr.shape}".encode())
        h.update(arr.data)
    return h.hexdigest()[:20]


def cached(name: str, params: dict, inputs: dict[str, np.ndarray], compute: Callable[[], dict],
           folder=None) -> dict[str, np.ndarray]:
    """Return `compute()` (a dict of arrays), from data/cache/ when these inputs were seen before."""
    folder = project_root() / "data" / "cache" if folder is None else folder
    path = folder / f"{name}-{cache_key(name, params, inputs)}.npz"
    if path.is_file():
        try:
            with np.load(path) as stored:
                return {k: stored[k] for k in stored.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            path.unlink()  # a damaged cache entry is recomputed, not trusted
    result = compute()
    buffer = io.BytesIO()
    np.savez(buffer, **result)
    atomic_write_bytes(path, buffer.getvalue())
    return result
