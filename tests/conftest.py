import matplotlib
import pytest

matplotlib.use("Agg")

from hypothesis import settings

# the same generated examples on every run and machine: a property test never flakes in CI
settings.register_profile("repeatable", derandomize=True, database=None)
settings.load_profile("repeatable")


@pytest.fixture(autouse=True)
def no_downloads_and_no_home_from_outside(monkeypatch):
    """No test reaches the internet (a missing data set would otherwise be downloaded), and none
    depends on the developer's GANRET_HOME or system data folder; tests that download serve the
    files themselves on 127.0.0.1 and unset GANRET_OFFLINE."""
    monkeypatch.setenv("GANRET_OFFLINE", "1")
    for name in ("GANRET_HOME", "GANRET_SYSTEM_DATA"):
        monkeypatch.delenv(name, raising=False)
