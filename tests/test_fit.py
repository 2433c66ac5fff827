import json

import pytest
import torch

from ganret_lib import fit, runs
from ganret_lib.train import CheckpointError, TrainingDiverged

CFG = fit.FitConfig(steps=8, batch_size=4, checkpoint_every=2, log_every=2)
DATA = torch.linspace(-1, 1, 24).view(24, 1)


def problem(fail_at=None, nan_at=None):
    """A linear regression whose step draws noise from the step's generator."""
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)

    def step(s, idx, g):
        if s == fail_at:
            raise KeyboardInterrupt  # the run is interrupted here
        x = DATA[idx] + 0.1 * torch.randn(len(idx), 1, generator=g)
        loss = ((model(x) - 3 * x) ** 2).mean() * (float("nan") if s == nan_at else 1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.detach()}

    return model, opt, step


def fitter(folder, **kw):
    model, opt, step = problem(**kw)
    return model, fit.Fitter({"model": model}, {"opt": opt}, step, len(DATA), CFG, folder, {"task": "toy"})


@pytest.fixture(autouse=True)
def deterministic():
    runs.seed_everything(0, threads=1)


def test_interrupted_run_resumes_to_identical_weights(tmp_path):
    straight, f = fitter(tmp_path / "a")
    f.fit(progress=False)
    _, f = fitter(tmp_path / "b", fail_at=5)
    with pytest.raises(KeyboardInterrupt):
        f.fit(progress=False)
    resumed, f = fitter(tmp_path / "b")
    assert f.step == 4  # the last checkpoint before the interruption
    f.fit(progress=False)
    assert torch.equal(straight.weight, resumed.weight) and torch.equal(straight.bias, resumed.bias)
    steps = [json.loads(line)["step"] for line in (tmp_path / "b" / "stats.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6, 8]  # nothing logged twice


def test_non_finite_loss_keeps_last_good_checkpoint(tmp_path):
    _, f = fitter(tmp_path, nan_at=4)
    with pytest.raises(TrainingDiverged, match="step 4"):
        f.fit(progress=False)
    assert torch.load(f.checkpoint_path, weights_only=True)["step"] == 4


def test_other_configuration_or_corrupt_checkpoint_is_refused(tmp_path):
    fitter(tmp_path)[1].fit(progress=False)
    model, opt, step = problem()
    with pytest.raises(CheckpointError, match="another configuration"):
        fit.Fitter({"model": model}, {"opt": opt}, step, len(DATA), CFG, tmp_path, {"task": "other"})
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="delete it"):
        fitter(tmp_path)


def test_fit_or_load_trains_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "_toc.yml").write_text("root: x\n")
    model, opt, step = problem()
    first = fit.fit_or_load("toy", {"model": model}, {"opt": opt}, step, len(DATA), CFG, {}, progress=False)
    stamp = first.checkpoint_path.stat().st_mtime_ns
    loaded, opt, step = problem()
    second = fit.fit_or_load("toy", {"model": loaded}, {"opt": opt}, step, len(DATA), CFG, {}, progress=False)
    assert second.checkpoint_path.stat().st_mtime_ns == stamp
    assert torch.equal(loaded.weight, model.weight)


def test_too_few_items_for_a_batch(tmp_path):
    model, opt, step = problem()
    with pytest.raises(ValueError, match="fewer than one batch"):
        fit.Fitter({"m": model}, {"o": opt}, step, 3, CFG, tmp_path, {})
