import copy
import json

import pytest
import torch

from ganret_lib.core import runs
from ganret_lib.core.loop import CheckpointError, FitConfig, TrainingDiverged, load_checkpoint, read_stats
from ganret_lib.gan import dcgan, losses, models

MODEL = models.DCGANConfig(nz=8, ngf=4, ndf=4, nc=1, image_size=32)


def images(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 32, 32, generator=g) * 2 - 1


def train(folder, x=None, until=None, gan=None, **kw):
    fit_cfg = FitConfig(**({"steps": 8, "batch_size": 16, "checkpoint_every": 2, "log_every": 2} | kw))
    return dcgan.dcgan_fitter("tiny", MODEL, gan or dcgan.GANConfig(sample_every=4), fit_cfg,
                              images() if x is None else x, device="cpu", until=until, folder=folder,
                              progress=False)


def weights(fitter):
    return {f"{name}.{k}": v for name, m in fitter.modules.items() for k, v in m.state_dict().items()}


@pytest.fixture(autouse=True)
def deterministic():
    runs.seed_everything(0, threads=1)


@pytest.mark.parametrize("g_loss", losses.G_LOSSES)
def test_step_is_algorithm_1_with_the_losses_of_chapter_2(g_loss):
    G, D = models.build_dcgan(MODEL)
    opt_g, opt_d = (torch.optim.SGD(m.parameters(), lr=0.0) for m in (G, D))  # lr 0: weights stay
    real, z = images(8), torch.randn(8, MODEL.nz)
    stats = dcgan.dcgan_step(G, D, opt_g, opt_d, real, z, g_loss)
    with torch.no_grad():
        fake_logits, real_logits = D(G(z)), D(real)
    assert set(stats) == {"d_loss", "g_loss", "d_real", "d_fake"}
    torch.testing.assert_close(stats["d_loss"], losses.d_loss(real_logits, fake_logits))
    torch.testing.assert_close(stats["g_loss"], losses.g_loss(fake_logits, g_loss))
    torch.testing.assert_close(stats["d_real"], torch.sigmoid(real_logits).mean())
    torch.testing.assert_close(stats["d_fake"], torch.sigmoid(fake_logits).mean())
    assert all(p.grad is not None for p in G.parameters())  # the generator step reached G


def test_one_step_moves_each_player_the_right_way():
    """D's update raises D(x) and lowers D(G(z)) on its batch; G's update then raises D(G(z))
    under the new D. A swapped or sign-flipped player moves them the other way."""
    G, D = models.build_dcgan(MODEL)
    G_before = copy.deepcopy(G)
    D_before = copy.deepcopy(D)
    opt_g, opt_d = (torch.optim.SGD(m.parameters(), lr=0.02) for m in (G, D))
    real, z = images(16), torch.randn(16, MODEL.nz)
    dcgan.dcgan_step(G, D, opt_g, opt_d, real, z)

    def p_real(d, x):  # mean D(x) in train mode, as the step sees it
        with torch.no_grad():
            return torch.sigmoid(d(x)).mean().item()

    with torch.no_grad():
        fake_before = G_before(z)
    assert p_real(D, real) > p_real(D_before, real)
    assert p_real(D, fake_before) < p_real(D_before, fake_before)
    with torch.no_grad():
        assert p_real(D, G(z)) > p_real(D, fake_before)


def test_resume_gives_identical_weights(tmp_path):
    straight = train(tmp_path / "a")
    half = train(tmp_path / "b", until=4)
    assert half.step == 4
    del half  # the process "stops" here; a new fitter resumes from the run directory
    resumed = train(tmp_path / "b")
    a, b = weights(straight), weights(resumed)
    assert resumed.step == 8 and all(torch.equal(a[k], b[k]) for k in a)
    assert [row["step"] for row in read_stats(tmp_path / "b")] == [2, 4, 6, 8]  # none logged twice
    assert all(row["images_per_s"] > 0 for row in read_stats(tmp_path / "b"))


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    train(tmp_path, until=4)
    bad = images()
    bad[:] = float("nan")
    with pytest.raises(TrainingDiverged, match="last good checkpoint \\(step 4\\)"):
        train(tmp_path, x=bad)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 4


def test_corrupt_and_mismatched_checkpoints_give_clear_errors(tmp_path):
    train(tmp_path / "run", until=2)
    with pytest.raises(CheckpointError, match="another configuration"):
        train(tmp_path / "run", gan=dcgan.GANConfig(lr=1e-3, sample_every=4))
    ckpt = tmp_path / "run" / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="delete it"):
        train(tmp_path / "run")


def test_samples_and_config_are_written(tmp_path):
    fitter = train(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["fit"]["steps"] == 8 and config["n_items"] == 96 and config["model"]["ndf"] == 4
    samples = dcgan.read_samples(tmp_path)
    assert sorted(samples) == [4, 8] and samples[8].shape == (64, 1, 32, 32)
    assert not fitter.modules["G"].training


def test_trains_once_then_loads(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "_toc.yml").write_text("root: x\n")
    fit_cfg = FitConfig(steps=4, batch_size=16, checkpoint_every=2, log_every=2)
    first = dcgan.dcgan_fitter("tiny", MODEL, dcgan.GANConfig(), fit_cfg, images(), progress=False)
    stamp = first.checkpoint_path.stat().st_mtime_ns
    second = dcgan.dcgan_fitter("tiny", MODEL, dcgan.GANConfig(), fit_cfg, images(), progress=False)
    assert second.step == 4 and second.checkpoint_path.stat().st_mtime_ns == stamp
    assert torch.equal(second.modules["G"].net[0].weight, first.modules["G"].net[0].weight)
    fewer = dcgan.dcgan_fitter("tiny", MODEL, dcgan.GANConfig(), fit_cfg, images(80), until=0, progress=False)
    assert fewer.run_dir != first.run_dir  # the number of training images is part of the identity


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        train(tmp_path, x=torch.zeros(32, 1, 28, 28))
    with pytest.raises(ValueError, match="fewer than one batch"):
        train(tmp_path, x=torch.zeros(4, 1, 32, 32))


def test_training_time_survives_a_resume(tmp_path):
    first = train(tmp_path, until=4)
    assert first.train_seconds > 0
    assert train(tmp_path, until=0).train_seconds == first.train_seconds


def test_the_configured_generator_loss_reaches_the_step(tmp_path):
    fitter = train(tmp_path, gan=dcgan.GANConfig(g_loss="saturating", sample_every=4), steps=2, log_every=1)
    assert all(line["g_loss"] < 0 for line in read_stats(fitter.run_dir))  # log(1 - D) < 0; -log D > 0
