import matplotlib

matplotlib.use("Agg")

from hypothesis import settings

# the same generated examples on every run and machine: a property test never flakes in CI
settings.register_profile("repeatable", derandomize=True, database=None)
settings.load_profile("repeatable")
