import numpy as np
import pytest

from ganret_lib import features


def test_raw_pixels_shape_and_range():
    images = np.array([[[0, 255], [128, 0]]] * 3, dtype=np.uint8)
    x = features.raw_pixels(images)
    assert x.shape == (3, 4) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0


def test_raw_pixels_rejects_floats_and_flat_input():
    with pytest.raises(ValueError, match="uint8"):
        features.raw_pixels(np.zeros((2, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        features.raw_pixels(np.zeros((2, 16), dtype=np.uint8))


def test_pca_dimensions_and_error():
    rng = np.random.default_rng(0)
    xb, xq = rng.random((50, 10)), rng.random((5, 10))
    pb, pq = features.pca(xb, [xb, xq], dim=3)
    assert pb.shape == (50, 3) and pq.shape == (5, 3)
    with pytest.raises(ValueError, match="between 1 and 10"):
        features.pca(xb, [xb], dim=11)


def test_cache_hits_misses_and_repairs(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(4.0)}

    inputs = {"images": np.ones((2, 2))}
    first = features.cached("demo", {"dim": 2}, inputs, compute, folder=tmp_path)
    again = features.cached("demo", {"dim": 2}, inputs, compute, folder=tmp_path)
    assert len(calls) == 1
    np.testing.assert_array_equal(first["x"], again["x"])
    features.cached("demo", {"dim": 3}, inputs, compute, folder=tmp_path)  # other params
    features.cached("demo", {"dim": 2}, {"images": np.zeros((2, 2))}, compute, folder=tmp_path)  # other data
    assert len(calls) == 3
    entry = tmp_path / f"demo-{features.cache_key('demo', {'dim': 2}, inputs)}.npz"
    entry.write_bytes(b"garbage")  # a damaged entry is recomputed
    features.cached("demo", {"dim": 2}, inputs, compute, folder=tmp_path)
    assert len(calls) == 4
    assert not list(tmp_path.glob(".*tmp"))  # no temporary files left behind
