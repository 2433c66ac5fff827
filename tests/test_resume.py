"""Every real training step resumes exactly after a crash between checkpoints."""
import copy
import json

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


# What each training promises: run name, modules, optimisers with (lr, betas), logged statistics,
# keys of config.json
ADAM_05 = (2e-4, (0.5, 0.999))
CONTRACTS = {
    "dcgan": ("gan", {"G", "D"}, {"adam_g": ADAM_05, "adam_d": ADAM_05},
              {"d_loss", "g_loss", "d_real", "d_fake"}, {"model", "gan"}),
    "autoencoder": ("ae", {"encoder", "decoder"}, {"adam": (1e-3, (0.9, 0.999))}, {"mse"},
                    {"model", "lr", "kind"}),
    "inversion encoder": ("inv", {"encoder"}, {"adam": ADAM_05}, {"latent_mse", "image_mse"},
                          {"model", "lr", "image_weight", "generator", "kind"}),
    "AFA-SVR cleaner": ("clean", {"G", "D"}, {"adam_g": ADAM_05, "adam_d": ADAM_05},
                        {"d_loss", "adv", "l1", "feat"}, {"cleaner", "classifier"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_training_uses_its_stated_optimiser_and_names(tmp_path, monkeypatch, name):
    runs.seed_everything(0, threads=1)
    in_project(tmp_path, monkeypatch)
    fitter = CASES[name][0]()
    run_name, modules, optimisers, logged, config_keys = CONTRACTS[name]
    assert set(fitter.modules) == modules and set(fitter.optimisers) == set(optimisers)
    for key, (lr, betas) in optimisers.items():
        group = fitter.optimisers[key].param_groups[0]
        assert (group["lr"], group["betas"]) == (lr, betas), key
    stats = read_stats(fitter.run_dir)[-1]
    assert logged <= stats.keys(), stats.keys()
    assert fitter.run_dir.name.startswith(run_name + "-")
    assert config_keys <= json.loads((fitter.run_dir / "config.json").read_text()).keys()


@pytest.mark.parametrize("name", list(CASES))
def test_a_run_does_not_depend_on_the_global_random_state_before_it(tmp_path, monkeypatch, name):
    """Reseeding torch's global generator before a run changes nothing: initial weights come from
    the run's seed, and each step's batch and noise from the generator of (seed, step)."""
    results = []
    for global_seed in (1, 2):
        runs.seed_everything(0, threads=1)
        in_project(tmp_path / str(global_seed), monkeypatch)
        torch.manual_seed(global_seed)
        results.append(weights(CASES[name][0]()))
    assert all(torch.equal(results[0][k], results[1][k]) for k in results[0]), name


def test_documented_defaults_and_seeds_reach_the_trainings(tmp_path, monkeypatch):
    runs.seed_everything(0, threads=1)
    in_project(tmp_path, monkeypatch)
    inv = json.loads((inversion_run().run_dir / "config.json").read_text())
    assert inv["image_weight"] == 1.0 and inv["lr"] == 2e-4
    ae = encoders.train_autoencoder("ae-lr", CFG, FIT, images(), lr=5e-4, device="cpu", progress=False)
    assert ae.optimisers["adam"].param_groups[0]["lr"] == 5e-4
    first, other = (dcgan.dcgan_fitter("g", CFG, dcgan.GANConfig(), FitConfig(steps=1, batch_size=16, seed=s), images(),
                                       device="cpu", until=0, progress=False) for s in (0, 1))
    assert not torch.equal(first.modules["D"].head.weight, other.modules["D"].head.weight)


def test_frozen_networks_get_no_gradients(tmp_path, monkeypatch):
    runs.seed_everything(0, threads=1)
    in_project(tmp_path, monkeypatch)
    G, _ = models.build_dcgan(CFG)
    encoders.train_inversion_encoder("inv", G, CFG, FIT, images(), generator_id="g", device="cpu", progress=False)
    assert all(p.grad is None for p in G.parameters()) and all(p.requires_grad for p in G.parameters())
    classifier = quality.SmallCNN(8)
    afa.train_cleaner("clean", classifier, stored(), afa.CleanerConfig(width=4), FIT, "c", device="cpu",
                      progress=False)
    assert all(p.grad is None for p in classifier.parameters())


def test_inversion_step_follows_the_gradient_of_its_stated_loss():
    """With SGD at lr 1, the encoder moves by exactly -grad(||E(G(z)) - z||^2 + w ||G(E(x)) - x||^2)."""
    torch.manual_seed(0)
    G, _ = models.build_dcgan(CFG)
    E = models.Encoder(CFG)
    G.train(), E.eval()  # G on batch statistics: an untrained G on identity statistics is nearly flat
    x, z, w = images(8), torch.randn(8, CFG.nz), 0.7
    E_ref = copy.deepcopy(E)
    loss = F.mse_loss(E_ref(G(z).detach()), z) + w * F.mse_loss(G(E_ref(x)), x)
    grads = torch.autograd.grad(loss, list(E_ref.parameters()))
    image_only = torch.autograd.grad(w * F.mse_loss(G(E_ref(x)), x), list(E_ref.parameters()))
    assert sum(g.norm() for g in image_only) > 0.05 * sum(g.norm() for g in grads)  # both terms count
    before = [p.detach().clone() for p in E.parameters()]
    encoders.inversion_step(E, G, torch.optim.SGD(E.parameters(), lr=1.0), x, z, w)
    for b, p, g in zip(before, E.parameters(), grads):
        torch.testing.assert_close(b - p.detach(), g, rtol=1e-3, atol=2e-7)  # float32 rounding of b - g


def test_autoencoder_step_lowers_the_reconstruction_error():
    torch.manual_seed(0)
    E, Dec = models.Encoder(CFG).eval(), models.Generator(CFG).eval()
    x = images(8)
    opt = torch.optim.SGD([*E.parameters(), *Dec.parameters()], lr=0.05)
    first = encoders.autoencoder_step(E, Dec, opt, x)["mse"]
    with torch.no_grad():
        assert F.mse_loss(Dec(E(x)), x) < first
