import numpy as np

from ganret_lib.core import cache


def test_cache_hits_misses_and_repairs(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(4.0)}

    inputs = {"images": np.ones((2, 2))}
    first = cache.cached("demo", {"dim": 2}, inputs, compute, folder=tmp_path)
    again = cache.cached("demo", {"dim": 2}, inputs, compute, folder=tmp_path)
    assert len(calls) == 1
    np.testing.assert_array_equal(first["x"], again["x"])
    cache.cached("demo", {"dim": 3}, inputs, compute, folder=tmp_path)  # other params
    cache.cached("demo", {"dim": 2}, {"images": np.zeros((2, 2))}, compute, folder=tmp_path)  # other data
    assert len(calls) == 3
    entry = tmp_path / f"demo-{cache.cache_key('demo', {'dim': 2}, inputs)}.npz"
    entry.write_bytes(b"garbage")  # a damaged entry is recomputed
    cache.cached("demo", {"dim": 2}, inputs, compute, folder=tmp_path)
    assert len(calls) == 4
    assert not list(tmp_path.glob(".*tmp"))  # no temporary files left behind
