import gzip

import numpy as np
import pytest

from ganret_lib.data import fashion_mnist as data


@pytest.fixture
def no_data_anywhere(tmp_path, monkeypatch):
    """A working directory with no project and no Debian package: nothing on the search path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.delenv("GANRET_DATA", raising=False)
    data.load_fashion_mnist.cache_clear()
    yield tmp_path
    data.load_fashion_mnist.cache_clear()


def write_fake_set(folder, content=b"not fashion-mnist"):
    folder.mkdir(parents=True, exist_ok=True)
    for name in data.CHECKSUMS:
        (folder / f"{name}.gz").write_bytes(gzip.compress(content))


def test_missing_data_names_the_ways_to_get_it(no_data_anywhere):
    assert data.find_fashion_mnist() is None
    with pytest.raises(data.DataError, match="make data"):
        data.load_fashion_mnist("train")
    with pytest.raises(data.DataError, match="apt-get install dataset-fashion-mnist"):
        data.fetch_fashion_mnist(allow_apt=False, allow_download=False)


def test_wrong_content_is_caught_by_checksum(no_data_anywhere, monkeypatch):
    write_fake_set(no_data_anywhere / "mine")
    monkeypatch.setenv("GANRET_DATA", str(no_data_anywhere / "mine"))
    with pytest.raises(data.DataError, match="do not match"):
        data.load_fashion_mnist("test")


def test_search_path_prefers_ganret_data_over_the_project_folder(no_data_anywhere, monkeypatch):
    (no_data_anywhere / "_toc.yml").write_text("root: x\n")
    write_fake_set(no_data_anywhere / "data" / "fashion-mnist")
    assert data.find_fashion_mnist() == no_data_anywhere / "data" / "fashion-mnist"
    write_fake_set(no_data_anywhere / "elsewhere")
    monkeypatch.setenv("GANRET_DATA", str(no_data_anywhere / "elsewhere"))
    assert data.find_fashion_mnist() == no_data_anywhere / "elsewhere"


def test_right_length_wrong_bytes_is_caught_by_the_sha256(no_data_anywhere, monkeypatch):
    folder = no_data_anywhere / "mine"
    write_fake_set(folder)
    _, length = data.CHECKSUMS["t10k-labels-idx1-ubyte"]
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\0" * length))
    monkeypatch.setenv("GANRET_DATA", str(folder))
    with pytest.raises(data.DataError, match="do not match"):
        data.read_idx(folder / "t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte")


def test_truncated_file_is_reported(no_data_anywhere, monkeypatch):
    folder = no_data_anywhere / "data" / "fashion-mnist"  # the project's own data folder
    write_fake_set(folder)
    (no_data_anywhere / "_toc.yml").write_text("root: x\n")
    whole = gzip.compress(b"x" * 10000)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(data.DataError, match="truncated or corrupt"):
        data.load_fashion_mnist("test")


def test_unknown_split(no_data_anywhere):
    with pytest.raises(ValueError, match="unknown split"):
        data.load_fashion_mnist("validation")


def test_real_fashion_mnist_when_present():
    if data.find_fashion_mnist() is None:
        pytest.skip("Fashion-MNIST is not installed here (make data)")
    images, labels = data.load_fashion_mnist("test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [1000] * 10
    with pytest.raises(ValueError):
        images[0, 0, 0] = 1  # the cached arrays are read-only


def test_stratified_subset_is_balanced_sorted_and_seeded():
    labels = np.repeat(np.arange(4), 50)
    idx = data.stratified_subset(labels, 22, seed=3)
    assert len(idx) == 22 and (np.diff(idx) > 0).all()
    assert sorted(np.bincount(labels[idx]).tolist()) == [5, 5, 6, 6]
    np.testing.assert_array_equal(idx, data.stratified_subset(labels, 22, seed=3))
    assert len(data.stratified_subset(labels, None, seed=0)) == 200


def test_torchvision_loader_names_its_data_sets():
    with pytest.raises(ValueError, match="cifar10"):
        data.load_torchvision("imagenet")


def test_search_path_order_in_full(no_data_anywhere, monkeypatch):
    (no_data_anywhere / "_toc.yml").write_text("root: x\n")
    monkeypatch.setenv("GANRET_DATA", str(no_data_anywhere / "mine"))
    project, mine = no_data_anywhere / "data", no_data_anywhere / "mine"
    assert data.candidate_dirs() == [mine / "fashion-mnist", mine, project / "fashion-mnist",
                                     project / "FashionMNIST" / "raw", no_data_anywhere / "no-debian"]


def idx_file(folder, array):
    """An IDX file of uint8 `array`: magic 0 0 8 ndim, big-endian dimensions, the bytes."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    raw = header + array.tobytes()
    path = folder / "synthetic.gz"
    path.write_bytes(gzip.compress(raw))
    return path, raw


def test_idx_dimensions_are_read_as_4_byte_big_endian_integers(tmp_path, monkeypatch):
    import hashlib

    array = np.arange(2 * 3 * 70000, dtype=np.int64).astype(np.uint8).reshape(2, 3, 70000)  # 70000 > 2^16
    path, raw = idx_file(tmp_path, array)
    monkeypatch.setitem(data.CHECKSUMS, "synthetic", (hashlib.sha256(raw).hexdigest(), len(raw)))
    np.testing.assert_array_equal(data.read_idx(path, "synthetic"), array)


def test_a_mismatch_names_the_expected_size_and_digest(no_data_anywhere):
    write_fake_set(no_data_anywhere)
    digest, length = data.CHECKSUMS["t10k-labels-idx1-ubyte"]
    with pytest.raises(data.DataError, match=f"\\({length} bytes, sha256 {digest[:12]}…\\)"):
        data.read_idx(no_data_anywhere / "t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte")


def test_stratified_subset_sizes_at_the_edges():
    labels = np.repeat(np.arange(4), 5)
    assert len(data.stratified_subset(labels, 1, seed=0)) == 1
    assert len(data.stratified_subset(labels, 20, seed=0)) == 20
    for n in (0, -3):
        with pytest.raises(ValueError, match="subset size must be positive"):
            data.stratified_subset(labels, n, seed=0)
