import numpy as np
import pytest
import torch
from torch import nn

from ganret_lib.core import runs
from ganret_lib.core.loop import FitConfig
from ganret_lib.gan import unet
from ganret_lib.methods import translation
from ganret_lib.retrieval import metrics


@pytest.fixture(autouse=True)
def deterministic():
    runs.seed_everything(0, threads=1)


class Negate(nn.Module):
    def forward(self, x):
        return -x


def test_cycle_consistency_by_hand():
    s, p = torch.full((2, 1, 4, 4), 0.5), torch.full((2, 1, 4, 4), -0.25)
    assert translation.cycle_consistency(nn.Identity(), nn.Identity(), s, p).item() == 0.0
    # G negates, H is the identity: H(G(s)) = -s, G(H(p)) = -p, so the loss is 2|s| + 2|p| = 1 + 0.5
    assert translation.cycle_consistency(Negate(), nn.Identity(), s, p).item() == pytest.approx(1.5)
    # negating twice comes back: a consistent cycle between two wrong translators costs nothing
    assert translation.cycle_consistency(Negate(), Negate(), s, p).item() == 0.0


def test_least_squares_losses_by_hand():
    real, fake = torch.tensor([1.0, 0.5]), torch.tensor([0.0, 1.0])
    # 0.5 * (mean((0, 0.25)) + mean((0, 1))) = 0.5 * (0.125 + 0.5)
    assert translation.lsgan_d_loss(real, fake).item() == pytest.approx(0.3125)
    assert translation.lsgan_g_loss(fake).item() == pytest.approx(0.5)  # mean((1, 0))


def test_translator_shapes_and_conditional_critic():
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    assert unet.UNet(4)(x).shape == x.shape
    assert unet.PatchDiscriminator(4, in_channels=2)(torch.cat([x, x], 1)).shape == (3, 1, 8, 8)
    sketches = (np.random.default_rng(0).random((5, 28, 28)) * 255).astype(np.uint8)
    out = translation.translate(unet.UNet(4), sketches)
    assert out.shape == (5, 28, 28) and out.dtype == np.uint8


def paired(kind):
    G, D = unet.UNet(4), unet.PatchDiscriminator(4, in_channels=2)
    cfg = translation.TranslatorConfig(kind=kind, width=4, l1_weight=1.0)
    opt_g, opt_d = translation._adam(G, cfg=cfg), translation._adam(D, cfg=cfg)
    s, p = torch.rand(8, 1, 32, 32) * 2 - 1, torch.rand(8, 1, 32, 32) * 2 - 1
    return G, D, opt_g, opt_d, s, p, cfg


def test_l1_step_lowers_l1_and_leaves_the_critic_alone():
    G, D, opt_g, opt_d, s, p, cfg = paired("l1")
    d_before = [t.clone() for t in D.state_dict().values()]
    with torch.no_grad():
        before = nn.functional.l1_loss(G(s), p).item()
    stats = translation.paired_step(G, D, opt_g, opt_d, s, p, cfg)
    assert set(stats) == {"l1"} and stats["l1"].item() == pytest.approx(before, rel=1e-5)
    with torch.no_grad():
        assert nn.functional.l1_loss(G(s), p).item() < before
    assert all(torch.equal(a, b) for a, b in zip(d_before, D.state_dict().values()))


def test_pix2pix_critic_learns_real_pairs_from_fake_ones():
    G, D, opt_g, opt_d, s, p, cfg = paired("pix2pix")
    with torch.no_grad():
        fake = G(s)
        gap_before = (D(torch.cat([s, p], 1)) - D(torch.cat([s, fake], 1))).mean().item()
    stats = translation.paired_step(G, D, opt_g, opt_d, s, p, cfg)
    with torch.no_grad():
        gap_after = (D(torch.cat([s, p], 1)) - D(torch.cat([s, fake], 1))).mean().item()
    assert gap_after > gap_before and set(stats) == {"d_loss", "adv", "l1"}


def test_unknown_kind_and_unpaired_lengths_are_errors():
    with pytest.raises(ValueError, match="unknown translator"):
        translation.TranslatorConfig(kind="pix2pixHD")
    x = np.zeros((16, 28, 28), dtype=np.uint8)
    with pytest.raises(ValueError, match="one sketch per photo"):
        translation.train_translator("t", translation.TranslatorConfig(width=4), FitConfig(steps=1, batch_size=8),
                                     x, x[:8], "test", progress=False)


@pytest.mark.parametrize("kind", translation.KINDS)
def test_training_resumes_to_the_same_weights(tmp_path, monkeypatch, kind):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "_toc.yml").write_text("root: x\n")
    rng = np.random.default_rng(0)
    sketches, photos = ((rng.random((16, 28, 28)) * 255).astype(np.uint8) for _ in range(2))
    cfg = translation.TranslatorConfig(kind=kind, width=4)

    def fit(name, until=None):
        return translation.train_translator(name, cfg, FitConfig(steps=4, batch_size=8, checkpoint_every=2),
                                            sketches, photos, "test", progress=False, until=until)

    whole = fit("whole")
    assert fit("part", until=2).step == 2  # interrupted after its checkpoint at step 2
    resumed = fit("part")
    assert resumed.step == 4
    for a, b in zip(whole.modules["G"].state_dict().values(), resumed.modules["G"].state_dict().values()):
        assert torch.equal(a, b)
    assert ("H" in whole.modules) == (kind == "cyclegan")


def test_edge_hog_shape():
    drawings = np.zeros((3, 28, 28), dtype=np.uint8)
    drawings[:, 10:18, 14] = 255
    assert translation.edge_hog(drawings, 7).shape == (3, 3 * 3 * 2 * 2 * 9)
    assert translation.edge_hog(drawings, 4).shape == (3, 6 * 6 * 2 * 2 * 9)


def test_paired_bootstrap_ratio_by_hand():
    b = np.linspace(0.1, 0.9, 50)
    r = metrics.paired_bootstrap_ratio(0.5 * b, b, n_resamples=200)
    assert r["ratio"] == pytest.approx(0.5) and r["low"] == pytest.approx(0.5) and r["high"] == pytest.approx(0.5)
    noisy = metrics.paired_bootstrap_ratio(0.5 * b + np.random.default_rng(0).normal(0, 0.05, 50), b,
                                           n_resamples=500)
    assert noisy["low"] < noisy["ratio"] < noisy["high"]
    with pytest.raises(ValueError, match="same length"):
        metrics.paired_bootstrap_ratio(b, b[:10])
