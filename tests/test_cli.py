"""The `ganret` command end to end, in a folder the test writes: 300 Fashion-MNIST test images as
PNG (some in a sub-folder), a few images of other sizes and modes, a truncated PNG and a text file."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganret_lib.app import cli, search
from ganret_lib.app import model as models
from ganret_lib.data import fashion_mnist, folder

FIT = ["--steps", "6", "--width", "8", "--quiet"]


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "images"
    (root / "sub").mkdir(parents=True)
    x, _ = fashion_mnist.load_fashion_mnist("test")
    for i in range(300):
        Image.fromarray(x[i]).save(root / ("sub" if i % 3 == 0 else "") / f"{i:04d}.png")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)).save(root / "photo.jpg")
    Image.fromarray(rng.integers(0, 256, (40, 20, 4), dtype=np.uint8), "RGBA").save(root / "alpha.png")
    Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)).convert("P").save(root / "palette.gif")
    (root / "notes.txt").write_text("not an image")
    whole = (root / "0001.png").read_bytes()
    (root / "truncated.png").write_bytes(whole[: len(whole) // 2])
    (root / ".hidden.png").write_bytes(whole)  # hidden files are not part of the collection
    return root


@pytest.fixture(scope="module")
def fitted(images) -> Path:
    out = images.parent / "model.pt"
    assert cli.main(["fit", str(images), "--out", str(out), *FIT]) == 0
    return out


@pytest.fixture(scope="module")
def indexed(images, fitted) -> Path:
    out = images.parent / "images.index"
    assert cli.main(["index", str(images), "--model", str(fitted), "--out", str(out), "--quiet"]) == 0
    return out


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_folder_rule_converts_any_size_and_mode_to_one_shape(images):
    for name in ("0001.png", "photo.jpg", "alpha.png", "palette.gif"):
        assert folder.read_image(images / name, 32).shape == (32, 32)
        assert folder.read_image(images / name, 64, channels=3).shape == (64, 64, 3)
    wide = folder.convert(Image.new("L", (70, 35), 255), 32)  # aspect kept: 32 x 16, centred on black
    assert wide[8:24].min() == 255 and wide[:8].max() == 0 and wide[24:].max() == 0
    with pytest.raises(folder.ImageFileError, match="unreadable image"):
        folder.read_image(images / "truncated.png", 32)
    with pytest.raises(folder.ImageFileError, match="not an image"):
        folder.read_image(images / "notes.txt", 32)


def test_fit_index_query_finds_each_query_itself_first(capsys, images, fitted, indexed):
    code, out, _ = run(capsys, "query", indexed, images / "0001.png", images / "sub" / "0003.png", "-k", 5, "--json")
    assert code == 0
    results = json.loads(out)
    assert [r["results"][0]["path"] for r in results] == ["0001.png", "sub/0003.png"]
    assert all(len(r["results"]) == 5 and r["results"][0]["distance"] < 1e-5 for r in results)
    info = search.info(indexed)
    assert info["images"] == 303 and info["skipped_files"] == 2 and info["type"] == "flat"  # 300 + 3 others
    assert info["model_identity"] == models.load(fitted).identity


def test_query_prints_ranked_paths_and_writes_a_self_contained_page(capsys, images, indexed, tmp_path):
    page = tmp_path / "results.html"
    code, out, _ = run(capsys, "query", indexed, images / "photo.jpg", "-k", 3, "--html", page)
    assert code == 0 and "query " in out and "  1  " in out and f"wrote {page}" in out
    html = page.read_text()
    assert html.count("data:image/png;base64,") == 4 and "http" not in html.replace("http-equiv", "")


def test_info_and_help(capsys, monkeypatch, indexed):
    code, out, _ = run(capsys, "info", indexed)
    assert code == 0 and "images          303" in out and "flat" in out
    assert "dcgan pipeline, 6 steps on 303 images, PCA to 32" in out
    monkeypatch.chdir(indexed.parent)  # a folder under the working directory is shown relative to it
    assert "folder          images\n" in run(capsys, "info", indexed)[1]
    script = Path(sys.executable).with_name("ganret")
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and all(c in done.stdout for c in ("fit", "index", "query", "info"))


@pytest.mark.parametrize("setup, message", [
    (lambda p: p.mkdir(), "holds no files"),
    (lambda p: None, "no folder at"),
    (lambda p: (p.mkdir(), (p / "a.txt").write_text("x")), "none of the 1 files"),
])
def test_bad_folders_are_clear_errors_and_write_nothing(capsys, tmp_path, fitted, setup, message):
    bad = tmp_path / "bad"
    setup(bad)
    code, _, err = run(capsys, "index", bad, "--model", fitted, "--out", tmp_path / "x.index", "--quiet")
    assert code == 1 and message in err and not (tmp_path / "x.index").exists()
    code, _, err = run(capsys, "fit", bad, "--out", tmp_path / "m.pt", *FIT)
    assert code == 1 and message in err and not (tmp_path / "m.pt").exists()


def test_corrupt_and_foreign_files_are_named_as_such(capsys, tmp_path, images, fitted, indexed):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(np.random.default_rng(0).bytes(5000))
    code, _, err = run(capsys, "query", junk, images / "0001.png")
    assert code == 1 and "is not a saved ganret index" in err
    truncated = tmp_path / "truncated.index"
    truncated.write_bytes(indexed.read_bytes()[:2000])
    code, _, err = run(capsys, "info", truncated)
    assert code == 1 and "is not a saved ganret index" in err
    code, _, err = run(capsys, "index", images, "--model", junk, "--out", tmp_path / "x.index")
    assert code == 1 and "is not a ganret model" in err
    code, _, err = run(capsys, "query", indexed, images / "notes.txt")
    assert code == 1 and "not an image" in err
    code, _, err = run(capsys, "query", indexed, images / "0001.png", "-k", 0)
    assert code == 1 and "k must be at least 1" in err


def test_an_index_and_a_model_that_do_not_belong_together(capsys, tmp_path, images, indexed):
    other = tmp_path / "other.pt"
    assert cli.main(["fit", str(images), "--out", str(other), *FIT, "--seed", "1"]) == 0
    code, _, err = run(capsys, "query", indexed, images / "0001.png", "--model", other)
    assert code == 1 and "do not belong together" in err


def test_an_interrupted_index_resumes_and_gives_the_same_index(capsys, monkeypatch, tmp_path, images, fitted,
                                                                indexed):
    out = tmp_path / "resumed.index"
    real, calls = models.Model.transform, []

    def interrupted(self, stored):
        calls.append(len(stored))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, stored)

    monkeypatch.setattr(models.Model, "transform", interrupted)
    code, _, err = run(capsys, "index", images, "--model", fitted, "--out", out, "--batch", 100, "--quiet")
    assert code == 130 and "run the same command again" in err and not out.exists()
    assert [p.name for p in sorted((tmp_path / "resumed.index.partial").glob("batch-*"))] == ["batch-000000.npz"]
    monkeypatch.setattr(models.Model, "transform", real)
    code, printed, _ = run(capsys, "index", images, "--model", fitted, "--out", out, "--batch", 100, "--quiet")
    assert code == 0 and "1 batches resumed" in printed and not (tmp_path / "resumed.index.partial").exists()
    whole = tmp_path / "whole.index"  # the same batches, never interrupted
    assert run(capsys, "index", images, "--model", fitted, "--out", whole, "--batch", 100, "--quiet")[0] == 0
    a, b = search.open_index(out)[0], search.open_index(whole)[0]
    assert a.extra["paths"] == b.extra["paths"] == search.open_index(indexed)[0].extra["paths"]
    assert np.array_equal(a.index.reconstruct_n(0, a.ntotal), b.index.reconstruct_n(0, b.ntotal))


def test_a_partial_index_of_another_model_is_restarted_not_mixed(capsys, tmp_path, images, fitted):
    out = tmp_path / "x.index"
    partial = tmp_path / "x.index.partial"
    partial.mkdir()
    (partial / "manifest.json").write_text(json.dumps({"model": "another"}))
    (partial / "batch-000000.npz").write_bytes(b"stale")
    code, printed, _ = run(capsys, "index", images, "--model", fitted, "--out", out, "--quiet")
    assert code == 0 and "restarting the index" in printed and search.info(out)["images"] == 303


def test_an_interrupted_fit_writes_no_model_and_a_rerun_gives_the_uninterrupted_model(
        capsys, monkeypatch, tmp_path, images, fitted):
    from ganret_lib.gan import dcgan

    out, real, calls = tmp_path / "model.pt", dcgan.dcgan_step, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(dcgan, "dcgan_step", interrupted)
    code, _, err = run(capsys, "fit", images, "--out", out, *FIT)
    assert code == 130 and not out.exists()
    monkeypatch.setattr(dcgan, "dcgan_step", real)
    assert run(capsys, "fit", images, "--out", out, *FIT)[0] == 0
    assert models.load(out).identity == models.load(fitted).identity  # the same seed, the same model


def test_a_run_folder_trained_on_other_images_is_not_resumed(capsys, tmp_path, images):
    small = tmp_path / "small"
    shutil.copytree(images / "sub", small)
    out = tmp_path / "m.pt"
    assert cli.main(["fit", str(small), "--out", str(out), *FIT]) == 0
    (small / "0000.png").unlink()
    code, _, err = run(capsys, "fit", small, "--out", out, *FIT)
    assert code == 1 and "training on other images" in err


def test_the_autoencoder_pipeline_and_color_images(capsys, tmp_path, images):
    out = tmp_path / "ae.pt"
    assert cli.main(["fit", str(images), "--out", str(out), "--pipeline", "autoencoder", "--color", *FIT]) == 0
    model = models.load(out)
    assert model.settings.channels == 3 and model.transform(np.zeros((2, 32, 32, 3), np.uint8)).shape == (2, 32)
