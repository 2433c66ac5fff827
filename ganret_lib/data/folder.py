"""A folder of the reader's own images (the `ganret` command): found, read and converted by one rule.

The rule, the same for training, indexing and queries:
- every file under the folder (recursively; names starting with "." skipped) that Pillow can
  decode is an image, whatever its format, size or mode;
- it is converted to grayscale ("L", one channel) or to RGB (three), transparency composed on black;
- it is resized so that its longer side is `size` pixels (aspect ratio kept, Lanczos filter) and
  centred on a `size` x `size` black canvas (black is the networks' background, -1 in gan form).
The result is a stored uint8 image (`images`): (size, size) or (size, size, 3). A file that is not
an image, or is truncated, is skipped, counted and listed; only a folder without one readable
image is an error.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MODES = {1: "L", 3: "RGB"}  # channels -> Pillow mode


class FolderError(ValueError):
    """A folder that cannot be used: missing, not a folder, or without one readable image."""


class ImageFileError(ValueError):
    """One file that is not a readable image."""


def list_files(root) -> list[str]:
    """Every file under `root` (relative POSIX paths, sorted), hidden ones skipped."""
    root = Path(root)
    if not root.exists():
        raise FolderError(f"no folder at {root}")
    if not root.is_dir():
        raise FolderError(f"{root} is a file, not a folder of images; give the folder that holds it")
    found = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not found:
        raise FolderError(f"{root} holds no files; put the images (PNG, JPEG, ...) in it")
    return found


def convert(image: Image.Image, size: int, channels: int = 1) -> np.ndarray:
    """One Pillow image -> stored uint8 (size, size) or (size, size, 3) by the module's rule."""
    if channels not in MODES:
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    image = image.convert(MODES[channels])
    fitted = ImageOps.contain(image, (size, size), Image.Resampling.LANCZOS)
    canvas = Image.new(MODES[channels], (size, size), 0)
    canvas.paste(fitted, ((size - fitted.width) // 2, (size - fitted.height) // 2))
    return np.asarray(canvas, dtype=np.uint8)


def read_image(path, size: int, channels: int = 1) -> np.ndarray:
    """One file by the rule, or an ImageFileError that says what is wrong with it."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()  # decodes now: a truncated file fails here, not later
            return convert(image, size, channels)
    except FileNotFoundError:
        raise ImageFileError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise ImageFileError(f"{path}: not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise ImageFileError(f"{path}: unreadable image ({exc})") from None


@dataclass
class Batch:
    paths: list[str]  # the readable files of the batch, relative to the folder
    images: np.ndarray  # their stored uint8 images, in the same order
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why) of the others


def batches(root, files: list[str], size: int, channels: int = 1, batch_size: int = 256) -> Iterator[Batch]:
    """The folder's `files` read by the rule, `batch_size` at a time (bounded memory)."""
    root = Path(root)
    shape = (size, size) if channels == 1 else (size, size, channels)
    for lo in range(0, len(files), batch_size):
        batch = Batch([], np.empty((0, *shape), np.uint8))
        arrays = []
        for name in files[lo:lo + batch_size]:
            try:
                arrays.append(read_image(root / name, size, channels))
                batch.paths.append(name)
            except ImageFileError as exc:
                batch.skipped.append((name, str(exc).split(": ", 1)[-1]))
        if arrays:
            batch.images = np.stack(arrays)
        yield batch


def read_folder(root, size: int, channels: int = 1, progress: bool = True) -> Batch:
    """Every readable image of the folder at once (training needs them all in memory)."""
    from tqdm import tqdm

    files = list_files(root)
    parts = list(tqdm(batches(root, files, size, channels), total=-(-len(files) // 256), desc="reading images",
                      disable=not progress, mininterval=2))
    out = Batch([p for b in parts for p in b.paths], np.concatenate([b.images for b in parts]),
                [s for b in parts for s in b.skipped])
    if not out.paths:
        raise FolderError(f"none of the {len(files)} files in {root} is a readable image "
                          f"(first: {out.skipped[0][0]}: {out.skipped[0][1]})")
    return out


def describe_skipped(skipped: list[tuple[str, str]], shown: int = 5) -> str:
    """'2 files skipped (not images or unreadable): a.txt (not an image ...), ...'."""
    if not skipped:
        return ""
    listed = ", ".join(f"{p} ({why})" for p, why in skipped[:shown])
    more = f", and {len(skipped) - shown} more" if len(skipped) > shown else ""
    return f"{len(skipped)} file{'s' if len(skipped) > 1 else ''} skipped (not images or unreadable): {listed}{more}"
