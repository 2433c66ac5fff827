import json

import pytest
import torch

from ganret_lib.core import loop, runs
from ganret_lib.core.loop import CheckpointError, TrainingDiverged

CFG = loop.FitConfig(steps=8, batch_size=4, checkpoint_every=2, log_every=2)
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
    return model, loop.Fitter({"model": model}, {"opt": opt}, step, len(DATA), CFG, folder, {"task": "toy"})


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
        loop.Fitter({"model": model}, {"opt": opt}, step, len(DATA), CFG, tmp_path, {"task": "other"})
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="delete it"):
        fitter(tmp_path)


def test_fit_or_load_trains_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "_toc.yml").write_text("root: x\n")
    model, opt, step = problem()
    first = loop.fit_or_load("toy", {"model": model}, {"opt": opt}, step, len(DATA), CFG, {}, progress=False)
    stamp = first.checkpoint_path.stat().st_mtime_ns
    loaded, opt, step = problem()
    second = loop.fit_or_load("toy", {"model": loaded}, {"opt": opt}, step, len(DATA), CFG, {}, progress=False)
    assert second.checkpoint_path.stat().st_mtime_ns == stamp
    assert torch.equal(loaded.weight, model.weight)


def test_too_few_items_for_a_batch(tmp_path):
    model, opt, step = problem()
    with pytest.raises(ValueError, match="fewer than one batch"):
        loop.Fitter({"m": model}, {"o": opt}, step, 3, CFG, tmp_path, {})


def test_callbacks_fire_on_their_events_in_order(tmp_path):
    _, f = fitter(tmp_path)
    seen = []
    for event in loop.EVENTS:
        f.add_callback(event, lambda fitter, event=event: seen.append((event, fitter.step)))
    f.fit(until=4, progress=False)
    assert seen == [("on_fit_start", 0), ("on_step_end", 1), ("on_log", 2), ("on_step_end", 2),
                    ("on_step_end", 3), ("on_log", 4), ("on_step_end", 4), ("on_fit_end", 4)]
    with pytest.raises(ValueError, match="unknown event"):
        f.add_callback("on_epoch", print)


def test_log_callbacks_add_keys_and_throughput_counts_items(tmp_path):
    _, f = fitter(tmp_path)
    meter = loop.Throughput()
    for event, fns in meter.callbacks().items():
        for fn in fns:
            f.add_callback(event, fn)
    f.add_callback("on_log", lambda fitter: fitter.log_record.update(extra=fitter.step * 10))
    f.fit(progress=False)
    rows = loop.read_stats(tmp_path)
    assert [r["extra"] for r in rows] == [20, 40, 60, 80]
    assert all(r["images_per_s"] > 0 for r in rows)
    assert meter.step == 8  # counted up to the last step


def test_checkpoint_holds_modules_optimisers_step_and_rng(tmp_path):
    _, f = fitter(tmp_path)
    f.fit(until=2, progress=False)
    state = loop.load_checkpoint(f.checkpoint_path)
    assert set(state) == {"modules", "optimisers", "step", "configs", "train_seconds", "torch_rng"}
    assert state["step"] == 2 and state["configs"]["n_items"] == len(DATA)
    assert json.loads((tmp_path / "config.json").read_text()) == state["configs"]


def test_step_generator_and_permutations_are_fixed_functions_of_seed_and_step():
    a = torch.rand(3, generator=loop.step_generator(5, 7))
    assert torch.equal(a, torch.rand(3, generator=torch.Generator().manual_seed(5 * 1_000_003 + 7)))
    assert not torch.equal(a, torch.rand(3, generator=loop.step_generator(5, 8)))
    perm = loop.epoch_permutation(10, 5, 0)
    assert torch.equal(perm, loop.epoch_permutation(10, 5, 0)) and sorted(perm.tolist()) == list(range(10))


def test_run_identity_covers_the_data_size(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "_toc.yml").write_text("root: x\n")
    dirs = set()
    for n in (len(DATA), len(DATA) - 4):
        model, opt, step = problem()
        dirs.add(loop.fit_or_load("toy", {"m": model}, {"o": opt}, step, n, CFG, {}, until=0).run_dir)
    assert len(dirs) == 2


def test_checkpoint_of_the_same_configuration_but_other_networks_is_refused(tmp_path):
    fitter(tmp_path)[1].fit(until=2, progress=False)
    other = torch.nn.Linear(1, 2)  # same configs, a different network
    opt = torch.optim.Adam(other.parameters())
    with pytest.raises(CheckpointError, match="does not match these networks"):
        loop.Fitter({"model": other}, {"opt": opt}, problem()[2], len(DATA), CFG, tmp_path, {"task": "toy"})
