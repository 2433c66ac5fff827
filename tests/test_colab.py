"""Chapters run where readers run them (Colab, a fresh folder): the data set is downloaded and
verified when missing, records go to a documented home outside the repository, and the install
cell installs the library. Fashion-MNIST is served to torchvision's downloader from 127.0.0.1."""
import functools
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from ganret_lib.core import runs
from ganret_lib.data import fashion_mnist as data

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
needs_data = pytest.mark.skipif(not data.DEBIAN_DIR.is_dir(), reason="serves the Debian copy (make data)")


@pytest.fixture
def mirror(tmp_path):
    """A folder served over HTTP on 127.0.0.1; yields (folder, its URL ending in /)."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve_fashion_mnist(folder: Path, truncate: str | None = None) -> list[tuple[str, str]]:
    """Copy the four files into the mirror (one cut in half if asked); torchvision's resources."""
    resources = []
    for name in data.CHECKSUMS:
        raw = (data.DEBIAN_DIR / f"{name}.gz").read_bytes()
        if name == truncate:
            raw = raw[: len(raw) // 2]
        (folder / f"{name}.gz").write_bytes(raw)
        # the md5 of what is served: Debian packs the .gz differently from the official mirror
        resources.append((f"{name}.gz", None if truncate else hashlib.md5(raw).hexdigest()))
    return resources


@pytest.fixture
def fresh_folder(tmp_path, monkeypatch):
    """A working folder outside any checkout, with no data set anywhere and downloads allowed."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("GANRET_SYSTEM_DATA", "")
    monkeypatch.delenv("GANRET_DATA", raising=False)
    monkeypatch.delenv("GANRET_OFFLINE")
    data.load_fashion_mnist.cache_clear()
    yield work
    data.load_fashion_mnist.cache_clear()


def test_home_is_the_checkout_inside_one_and_a_printed_folder_outside(tmp_path, monkeypatch, capsys):
    (tmp_path / "book" / "notebooks").mkdir(parents=True)
    (tmp_path / "book" / "_toc.yml").write_text("root: x\n")
    monkeypatch.setenv("GANRET_HOME", str(tmp_path / "elsewhere"))
    assert runs.project_root(tmp_path / "book" / "notebooks") == tmp_path / "book"  # the checkout wins
    outside = tmp_path / "outside"
    outside.mkdir()
    assert runs.project_root(outside) == tmp_path / "elsewhere"
    monkeypatch.delenv("GANRET_HOME")
    assert runs.project_root(outside) == outside / "ganret_home"
    runs.project_root(outside)
    printed = capsys.readouterr().out
    assert printed.count(str(outside / "ganret_home")) == 1  # announced once, not at every call
    assert "GANRET_HOME" in printed


@needs_data
def test_a_missing_data_set_is_downloaded_into_the_home_and_verified(fresh_folder, mirror, monkeypatch):
    from torchvision.datasets import FashionMNIST

    folder, url = mirror
    monkeypatch.setattr(FashionMNIST, "mirrors", [url])
    monkeypatch.setattr(FashionMNIST, "resources", serve_fashion_mnist(folder))
    images, labels = data.load_fashion_mnist("test")
    assert images.shape == (10000, 28, 28) and len(labels) == 10000
    assert data.find_fashion_mnist() == fresh_folder / "ganret_home" / "data" / "FashionMNIST" / "raw"


@needs_data
@pytest.mark.parametrize("cut", ["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])
def test_a_truncated_download_is_reported_and_removed(fresh_folder, mirror, monkeypatch, cut):
    from torchvision.datasets import FashionMNIST

    folder, url = mirror
    monkeypatch.setattr(FashionMNIST, "mirrors", [url])
    monkeypatch.setattr(FashionMNIST, "resources", serve_fashion_mnist(folder, truncate=cut))
    with pytest.raises(data.DataError, match=f"{cut}.gz is not a readable gzip file.*truncated or corrupt"):
        data.load_fashion_mnist("train")
    assert not (data.download_dir() / f"{cut}.gz").exists()  # the next attempt downloads it again


def test_offline_the_error_names_every_way_to_get_the_data(fresh_folder, monkeypatch):
    monkeypatch.setenv("GANRET_OFFLINE", "1")
    with pytest.raises(data.DataError, match="GANRET_OFFLINE is set.*make data.*apt-get install.*GANRET_DATA"):
        data.load_fashion_mnist("test")


def snapshot(folder: Path) -> dict:
    """Every file under the repository's data/ and runs/ with its size and time, and git's view."""
    files = {str(p): (p.stat().st_size, p.stat().st_mtime_ns)
             for sub in ("data", "runs", "notebooks") for p in (folder / sub).rglob("*") if p.is_file()}
    status = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--ignored"],
                            capture_output=True, text=True).stdout
    return {"files": files, "git": status}


SITECUSTOMIZE = '''\
"""Colab as the chapter sees it, offline: google.colab imported, the repository's editable install
hidden, torchvision's Fashion-MNIST mirror on 127.0.0.1."""
import sys
import types

sys.modules["google.colab"] = types.ModuleType("google.colab")
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
sys.path_hooks[:] = [h for h in sys.path_hooks if not getattr(h, "__module__", "").startswith("__editable__")]
from torchvision.datasets import FashionMNIST  # noqa: E402

FashionMNIST.mirrors = [{url!r}]
FashionMNIST.resources = {resources!r}
'''


def build_wheel(tmp_path: Path) -> Path:
    """The library as a wheel, built from a copy so that the build writes nothing into the repository."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "ganret_lib", src / "ganret_lib", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    subprocess.run([str(BIN / "python"), "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "-w", str(tmp_path / "wheels"), str(src)], check=True)
    return next((tmp_path / "wheels").glob("ganret_lib-*.whl"))


@needs_data
def test_a_chapter_runs_as_on_colab_from_a_fresh_folder(tmp_path, mirror):
    """Chapter 1's smoke profile from a clean start outside the repository: its install cell installs
    the wheel, the data is downloaded and verified, the record lands in ./ganret_home, and nothing
    is written into the repository."""
    folder, url = mirror
    hooks, site, work = tmp_path / "hooks", tmp_path / "site", tmp_path / "work"
    for d in (hooks, site, work):
        d.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE.format(url=url, resources=serve_fashion_mnist(folder)))
    wheel = build_wheel(tmp_path)
    chapter = nbformat.read(REPO / "notebooks" / "01_retrieval_baselines.ipynb", as_version=4)
    chapter.cells.append(nbformat.v4.new_code_cell("import ganret_lib\nprint('imported from', ganret_lib.__file__)"))
    nbformat.write(chapter, work / "chapter.ipynb")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GANRET_", "PYTHON"))}
    env |= {"PYTHONPATH": f"{hooks}{os.pathsep}{site}", "GANRET_SYSTEM_DATA": "",
            "GANRET_INSTALL": wheel.as_uri(),  # the install cell's override, in place of the git URL
            # the cell's `%pip install` goes into `site`, offline, without touching this environment
            "PIP_TARGET": str(site), "PIP_NO_DEPS": "1", "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    before = snapshot(REPO)
    done = subprocess.run([str(BIN / "papermill"), "-k", "python3", "--cwd", str(work), "--no-progress-bar",
                           str(work / "chapter.ipynb"), str(work / "out.ipynb"), "-p", "profile", "smoke"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    text = "".join(o.get("text", "") for c in nbformat.read(work / "out.ipynb", as_version=4).cells
                   if c.cell_type == "code" for o in c.outputs)
    assert f"installed ganret_lib from {wheel.as_uri()}" in text
    assert f"imported from {site / 'ganret_lib' / '__init__.py'}" in text
    home = work / "ganret_home"
    assert f"records, caches and run folders go to {home}" in text
    assert sorted(p.name for p in (home / "data" / "FashionMNIST" / "raw").glob("*.gz")) == sorted(
        f"{name}.gz" for name in data.CHECKSUMS)
    record = home / "data" / "results" / "smoke" / "01_retrieval_baselines.json"
    assert record.is_file() and '"commit": null' in record.read_text()
    assert snapshot(REPO) == before
