import json

import numpy as np
import pytest
import torch

from ganret_lib import models, runs, train

MODEL = models.DCGANConfig(nz=8, ngf=4, ndf=4, nc=1, image_size=32)


def images(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 32, 32, generator=g) * 2 - 1


def cfg(**kw):
    return train.TrainConfig(**({"steps": 8, "batch_size": 16, "checkpoint_every": 2, "sample_every": 4,
                                 "log_every": 2} | kw))


def weights(trainer):
    return {**{f"G.{k}": v for k, v in trainer.G.state_dict().items()},
            **{f"D.{k}": v for k, v in trainer.D.state_dict().items()}}


@pytest.fixture(autouse=True)
def deterministic():
    runs.seed_everything(0, threads=1)


def test_resume_gives_identical_weights(tmp_path):
    straight = train.GANTrainer(MODEL, cfg(), images(), tmp_path / "a").train(progress=False)
    half = train.GANTrainer(MODEL, cfg(), images(), tmp_path / "b").train(until=4, progress=False)
    del half  # the process "stops" here; a new trainer resumes from the run directory
    resumed = train.GANTrainer(MODEL, cfg(), images(), tmp_path / "b")
    assert resumed.step == 4
    resumed.train(progress=False)
    a, b = weights(straight), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    steps = [row["step"] for row in train.read_stats(tmp_path / "b")]
    assert steps == [2, 4, 6, 8]  # logged once each, none duplicated by the resume


def test_resume_after_a_crash_between_checkpoints(tmp_path):
    first = train.GANTrainer(MODEL, cfg(checkpoint_every=4), images(), tmp_path).train(until=6, progress=False)
    assert first.step == 6 and train.load_checkpoint_file(first.checkpoint_path)["step"] == 6
    # the checkpoint at until=6 is written; a crash at step 7 would resume from 6
    again = train.GANTrainer(MODEL, cfg(checkpoint_every=4), images(), tmp_path)
    assert again.step == 6


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    trainer = train.GANTrainer(MODEL, cfg(), images(), tmp_path).train(until=4, progress=False)
    trainer.images[:] = float("nan")
    with pytest.raises(train.TrainingDiverged, match="last good checkpoint \\(step 4\\)"):
        trainer.train(progress=False)
    assert train.load_checkpoint_file(trainer.checkpoint_path)["step"] == 4


def test_corrupt_and_mismatched_checkpoints_give_clear_errors(tmp_path):
    train.GANTrainer(MODEL, cfg(), images(), tmp_path / "run").train(until=2, progress=False)
    with pytest.raises(train.CheckpointError, match="another configuration"):
        train.GANTrainer(MODEL, cfg(lr=1e-3), images(), tmp_path / "run")
    ckpt = tmp_path / "run" / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    with pytest.raises(train.CheckpointError, match="delete it"):
        train.GANTrainer(MODEL, cfg(), images(), tmp_path / "run")


def test_samples_and_config_are_written(tmp_path):
    trainer = train.GANTrainer(MODEL, cfg(), images(), tmp_path).train(progress=False)
    assert json.loads((tmp_path / "config.json").read_text())["train"]["steps"] == 8
    with np.load(tmp_path / "samples.npz") as samples:
        assert sorted(samples.files) == ["step_4", "step_8"]
        assert samples["step_8"].shape == (64, 1, 32, 32)
    assert not trainer.G.training


def test_train_or_load_trains_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "_toc.yml").write_text("root: x\n")
    first = train.train_or_load("tiny", MODEL, cfg(), images(), progress=False)
    stamp = first.checkpoint_path.stat().st_mtime_ns
    second = train.train_or_load("tiny", MODEL, cfg(), images(), progress=False)
    assert second.step == 8 and second.checkpoint_path.stat().st_mtime_ns == stamp
    assert torch.equal(second.G.net[0].weight, first.G.net[0].weight)


def test_bad_inputs():
    with pytest.raises(ValueError, match="shape"):
        train.GANTrainer(MODEL, cfg(), torch.zeros(32, 1, 28, 28), "unused")
    with pytest.raises(ValueError, match="fewer than one batch"):
        train.GANTrainer(MODEL, cfg(), torch.zeros(4, 1, 32, 32), "unused")
    with pytest.raises(ValueError, match="uint8"):
        train.to_gan_images(np.zeros((2, 28, 28), dtype=np.float32))
    x = train.to_gan_images(np.full((2, 28, 28), 255, dtype=np.uint8))
    assert x.shape == (2, 1, 32, 32) and x[0, 0, 2, 2] == 1 and x[0, 0, 0, 0] == -1


def test_training_time_survives_a_resume(tmp_path):
    first = train.GANTrainer(MODEL, cfg(), images(), tmp_path).train(until=4, progress=False)
    assert first.train_seconds > 0
    resumed = train.GANTrainer(MODEL, cfg(), images(), tmp_path)
    assert resumed.train_seconds == first.train_seconds
