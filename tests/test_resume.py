"""Every real training step resumes exactly after a crash between checkpoints."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganret_lib.core import runs
from ganret_lib.core.loop import FitConfig, read_stats
from ganret_lib.gan import dcgan, models, quality
from ganret_lib.methods import afa, encoders

CFG = models.DCGANConfig(nz=8, ngf=4, ndf=4, nc=1, image_size=32)
FIT = FitConfig(steps=7, batch_size=16, checkpoint_every=2, log_every=1)


def interrupt_on_call(monkeypatch, owner, name, n):
    """Make owner.name raise KeyboardInterrupt on its n-th call (a crash mid-step)."""
    original, calls = getattr(owner, name), [0]

    def wrapped(*args, **kwargs):
        calls[0] += 1
        if calls[0] == n:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapped)


def in_project(folder, monkeypatch):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_toc.yml").write_text("root: x\n")
    monkeypatch.chdir(folder)


def images(n=64):
    return torch.rand(n, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1


def stored(n=64):
    return np.random.default_rng(0).integers(0, 256, (n, 28, 28)).astype(np.uint8)


def weights(fitter):
    return {f"{name}.{k}": v.clone() for name, m in fitter.modules.items() for k, v in m.state_dict().items()}


def dcgan_run():
    return dcgan.dcgan_fitter("gan", CFG, dcgan.GANConfig(sample_every=3), FIT, images(), device="cpu",
                              progress=False)


def autoencoder_run():
    return encoders.train_autoencoder("ae", CFG, FIT, images(), device="cpu", progress=False)


def inversion_run():
    G, _ = models.build_dcgan(CFG)
    return encoders.train_inversion_encoder("inv", G, CFG, FIT, images(), generator_id="g", device="cpu",
                                            progress=False)


def cleaner_run():
    torch.manual_seed(0)
    classifier = quality.SmallCNN(8)
    return afa.train_cleaner("clean", classifier, stored(), afa.CleanerConfig(width=4), FIT, "c",
                             device="cpu", progress=False)


# (training, what to break, its calls per step): the crash comes in step 5 (after the checkpoint at 4)
CASES = {"dcgan": (dcgan_run, (dcgan, "dcgan_step"), 1),
         "autoencoder": (autoencoder_run, (F, "mse_loss"), 1),
         "inversion encoder": (inversion_run, (F, "mse_loss"), 2),
         "AFA-SVR cleaner": (cleaner_run, (afa, "random_seen_degradation"), 1)}


@pytest.mark.parametrize("name", list(CASES))
def test_crash_between_checkpoints_then_resume_gives_the_same_weights(tmp_path, monkeypatch, name):
    run, (owner, attribute), calls_per_step = CASES[name]
    runs.seed_everything(0, threads=1)
    in_project(tmp_path / "straight", monkeypatch)
    straight = weights(run())
    in_project(tmp_path / "crashed", monkeypatch)
    with monkeypatch.context() as patch:
        interrupt_on_call(patch, owner, attribute, 5 * calls_per_step + 1)
        with pytest.raises(KeyboardInterrupt):
            run()
    resumed = run()  # picks the run up from its step-4 checkpoint
    assert resumed.step == FIT.steps
    after = weights(resumed)
    assert all(torch.equal(straight[k], after[k]) for k in straight), name
    logged = [line["step"] for line in read_stats(resumed.run_dir)]
    assert logged == list(range(1, FIT.steps + 1))  # nothing logged twice, nothing missing
