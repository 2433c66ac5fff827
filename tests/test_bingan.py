import numpy as np
import pytest
import torch

from ganret_lib.core import runs
from ganret_lib.core.loop import FitConfig
from ganret_lib.gan import models
from ganret_lib.methods import bingan

TINY = models.DCGANConfig(nz=8, ngf=4, ndf=4, nc=1, image_size=32)


@pytest.fixture(autouse=True)
def deterministic():
    runs.seed_everything(0, threads=1)


def test_regularisers_vanish_on_ideal_codes_by_hand():
    # the four 2-bit codes once each: balanced, uncorrelated, binary; h = b makes the cosines
    # equal b_i . b_j / K (|b|^2 = K)
    b = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    for value in bingan.hashing_regularisers(b.clone(), b).values():
        assert value.item() == pytest.approx(0.0, abs=1e-7)


def test_regularisers_of_one_repeated_code_by_hand():
    b = torch.full((3, 2), 0.5)  # every image the same relaxed code
    h = torch.eye(3)  # orthogonal features: every cosine 0
    r = bingan.hashing_regularisers(h, b)
    assert r["balance"].item() == pytest.approx(0.25)  # each bit's mean is 0.5
    assert r["decorrelation"].item() == pytest.approx(0.0625)  # mean b1 b2 = 0.25, squared
    assert r["quantisation"].item() == pytest.approx(0.25)  # (1 - 0.5)^2
    assert r["distance"].item() == pytest.approx(0.0625)  # (0 - (0.25 + 0.25) / 2)^2


def test_codes_are_booleans_of_each_head():
    _, D = bingan.build(TINY, bingan.BinGANConfig(bits=(8, 16)))
    stored = (np.random.default_rng(0).random((5, 28, 28)) * 255).astype(np.uint8)
    assert bingan.codes(D, stored, 8).shape == (5, 8) and bingan.codes(D, stored, 16).dtype == bool
    with pytest.raises(ValueError, match="heads for"):
        bingan.codes(D, stored, 32)


def test_step_trains_both_players_and_logs_every_term():
    cfg = bingan.BinGANConfig(bits=(8,))
    G, D = bingan.build(TINY, cfg)
    before = [p.clone() for p in (*G.parameters(), *D.parameters())]
    opt_g, opt_d = (torch.optim.Adam(m.parameters(), lr=1e-3) for m in (G, D))
    stats = bingan.bingan_step(G, D, opt_g, opt_d, torch.rand(8, 1, 32, 32) * 2 - 1, torch.randn(8, 8), cfg)
    assert set(stats) == {"d_loss", "g_loss", "distance", "balance", "decorrelation", "quantisation"}
    after = [*G.parameters(), *D.parameters()]
    assert all(not torch.equal(a, b) for a, b in zip(before, after) if b.requires_grad)


def test_training_resumes_to_the_same_codes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "_toc.yml").write_text("root: x\n")
    stored = (np.random.default_rng(1).random((16, 28, 28)) * 255).astype(np.uint8)
    cfg = bingan.BinGANConfig(bits=(8,))

    def fit(name, until=None):
        return bingan.train_hashing_gan(name, TINY, cfg, FitConfig(steps=4, batch_size=8, checkpoint_every=2),
                                        stored, "test", progress=False, until=until)

    whole = fit("whole")
    assert fit("part", until=2).step == 2  # interrupted after its checkpoint at step 2
    resumed = fit("part")
    assert resumed.step == 4
    assert np.array_equal(bingan.codes(whole.modules["D"], stored, 8), bingan.codes(resumed.modules["D"], stored, 8))
