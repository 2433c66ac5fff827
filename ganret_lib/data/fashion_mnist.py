"""Fashion-MNIST (chapter 1) from a search path, fetched when missing, checked byte for byte.

Where the four IDX files are looked for, in order:
  1. $GANRET_DATA (or $GANRET_DATA/fashion-mnist);
  2. <home>/data/fashion-mnist, and torchvision's layout <home>/data/FashionMNIST/raw, where
     <home> is the checkout, or outside one $GANRET_HOME or ./ganret_home (`runs.project_root`);
  3. the system folder $GANRET_SYSTEM_DATA, by default /usr/share/datasets/fashion-mnist
     (Debian: apt-get install dataset-fashion-mnist).
If none holds them, `load_fashion_mnist` downloads them with torchvision into
<home>/data/FashionMNIST/raw (with a progress bar; as on Colab), unless $GANRET_OFFLINE is set;
`make data` (`fetch_fashion_mnist()`) tries the Debian package first. Every file's decompressed
bytes are checked (length and SHA-256), so a truncated or corrupt file is reported, never half-read.
"""
from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from ..core.runs import project_root

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
# SHA-256 and length of each file's *decompressed* bytes (gzip packaging differs by source).
CHECKSUMS = {
    "train-images-idx3-ubyte": ("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", 47040016),
    "train-labels-idx1-ubyte": ("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", 60008),
    "t10k-images-idx3-ubyte": ("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 7840016),
    "t10k-labels-idx1-ubyte": ("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 10008),
}
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
OFFLINE_ENV = "GANRET_OFFLINE"  # set (to anything but "" or "0"): never download
HOW_TO_GET = ("Ways to get Fashion-MNIST: `make data`; or `apt-get install dataset-fashion-mnist` "
              "(Debian); or put the four *-ubyte.gz files in a folder and set GANRET_DATA to it; "
              "or, where the internet is reachable, let load_fashion_mnist download it "
              f"(unset {OFFLINE_ENV}).")


class DataError(RuntimeError):
    """The data set is missing or damaged; the message says how to get a good copy."""


def candidate_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("GANRET_DATA"):
        env = Path(os.environ["GANRET_DATA"]).expanduser()
        dirs += [env / "fashion-mnist", env]
    data = project_root() / "data"
    dirs += [data / "fashion-mnist", download_dir()]
    system = os.environ.get("GANRET_SYSTEM_DATA", str(DEBIAN_DIR))
    return dirs + ([Path(system)] if system else [])


def download_dir() -> Path:
    """Where torchvision's download puts the files (its own layout under <home>/data)."""
    return project_root() / "data" / "FashionMNIST" / "raw"


def offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "") not in ("", "0")


def _complete(folder: Path) -> bool:
    return all((folder / f"{name}.gz").is_file() for name in CHECKSUMS)


def find_fashion_mnist() -> Path | None:
    """The first folder on the search path that holds all four files, or None."""
    return next((d for d in candidate_dirs() if _complete(d)), None)


# pragma: no mutate start (a mutant could run apt-get or download: not for `make mutate`)
def fetch_fashion_mnist(allow_apt: bool = True, allow_download: bool = True) -> Path:
    """Make Fashion-MNIST available and return its folder (does nothing if already there)."""
    found = find_fashion_mnist()
    if found:
        return found
    tried = []
    if allow_apt and shutil.which("apt-get") and os.geteuid() == 0:
        tried.append("apt-get install dataset-fashion-mnist")
        install = "apt-get install -y -q dataset-fashion-mnist"
        cmd = f"{install} || (apt-get update -q && {install})"
        if subprocess.run(["sh", "-c", cmd]).returncode == 0 and _complete(DEBIAN_DIR):
            return DEBIAN_DIR
    if allow_download and not offline():
        tried.append("torchvision download")
        try:
            from torchvision.datasets import FashionMNIST
            FashionMNIST(download_dir().parents[1], download=True)
        except Exception as exc:  # offline, blocked, a broken mirror, a truncated archive
            tried[-1] += f" ({type(exc).__name__}: {exc})"
        verify_download()
        if find_fashion_mnist():
            return find_fashion_mnist()
    elif allow_download:
        tried.append(f"no download (${OFFLINE_ENV} is set)")
    raise DataError(f"Fashion-MNIST not found in {[str(d) for d in candidate_dirs()]}; "
                    f"tried: {tried or 'nothing (not allowed)'}. {HOW_TO_GET}")


def verify_download() -> None:
    """Check every file the download left; a bad one is removed (so that the next attempt fetches
    it again, which torchvision would not do while it exists) and reported."""
    for name in CHECKSUMS:
        path = download_dir() / f"{name}.gz"
        if path.is_file():
            try:
                read_idx(path, name)
            except DataError as exc:
                path.unlink()
                path.with_suffix("").unlink(missing_ok=True)  # torchvision's decompressed copy
                raise DataError(f"the download of Fashion-MNIST gave a bad file, now removed: {exc}") from None
# pragma: no mutate end


def read_idx(path: Path, name: str) -> np.ndarray:
    """Read one gzip-compressed IDX file after checking its length and SHA-256."""
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise DataError(f"{path} is not a readable gzip file ({exc}); it is probably truncated or "
                        f"corrupt: delete it and fetch it again. {HOW_TO_GET}") from exc
    digest, length = CHECKSUMS[name]
    if len(raw) != length or hashlib.sha256(raw).hexdigest() != digest:
        raise DataError(f"{path} decompresses to {len(raw)} bytes that do not match the published "
                        f"Fashion-MNIST file ({length} bytes, sha256 {digest[:12]}…): delete it and "
                        f"fetch it again. {HOW_TO_GET}")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


@functools.lru_cache(maxsize=4)
def load_fashion_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [N, 28, 28], labels int64 [N]) of the "train" (60,000) or "test" (10,000) split."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use 'train' or 'test'")
    folder = find_fashion_mnist() or fetch_fashion_mnist(allow_apt=False)
    images_name, labels_name = SPLITS[split]
    images = read_idx(folder / f"{images_name}.gz", images_name)
    labels = read_idx(folder / f"{labels_name}.gz", labels_name).astype(np.int64)
    images.flags.writeable = False  # cached and shared between callers
    labels.flags.writeable = False
    return images, labels


# pragma: no mutate start (downloads other data sets: not for `make mutate`)
def load_torchvision(name: str, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST or CIFAR-10 through torchvision (downloads into <project>/data where allowed)."""
    from torchvision import datasets

    classes = {"mnist": datasets.MNIST, "cifar10": datasets.CIFAR10}
    if name not in classes:
        raise ValueError(f"unknown data set {name!r}; use one of {sorted(classes)} (or load_fashion_mnist)")
    try:
        ds = classes[name](project_root() / "data", train=split == "train", download=True)
    except Exception as exc:
        raise DataError(f"could not load {name} through torchvision ({exc}); it needs the internet "
                        "the first time. Fashion-MNIST works offline: see load_fashion_mnist.") from exc
    return np.asarray(ds.data), np.asarray(ds.targets, dtype=np.int64)
# pragma: no mutate end


def stratified_subset(labels: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """Sorted indices of n items with (as near as possible) equal counts per class; None = all."""
    labels = np.asarray(labels)
    if n is None or n >= len(labels):
        return np.arange(len(labels))
    if n <= 0:
        raise ValueError(f"subset size must be positive, got {n}")
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = np.full(len(classes), n // len(classes))
    per_class[: n % len(classes)] += 1
    picks = [rng.choice(np.flatnonzero(labels == c), size=m, replace=False) for c, m in zip(classes, per_class)]
    return np.sort(np.concatenate(picks))


# pragma: no mutate start (the `make data` command line, which fetches)
def main() -> None:
    parser = argparse.ArgumentParser(description="Make Fashion-MNIST available offline-first.")
    parser.add_argument("--no-download", action="store_true", help="never use the network")
    args = parser.parse_args()
    folder = fetch_fashion_mnist(allow_download=not args.no_download)
    for split in SPLITS:
        images, _ = load_fashion_mnist(split)
        print(f"Fashion-MNIST {split}: {images.shape[0]} images, checked, in {folder}")


if __name__ == "__main__":
    main()
# pragma: no mutate end
