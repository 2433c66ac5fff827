import math

import numpy as np
import pytest
import torch

from ganret_lib.core import runs
from ganret_lib.core.loop import FitConfig
from ganret_lib.gan import models
from ganret_lib.methods import representation as rep

TINY = models.DCGANConfig(nz=8, ngf=4, ndf=4, nc=1, image_size=32)


@pytest.fixture(autouse=True)
def deterministic():
    runs.seed_everything(0, threads=1)


def test_nt_xent_by_hand():
    # two items, each view equal to its twin, the items orthogonal; tau = 1. Row e1 sees e2 (0),
    # its twin e1 (1) and e2 (0): the loss is -log(e / (2 + e)), the same for all four rows
    a = torch.eye(2)
    expected = math.log((2 + math.e) / math.e)
    assert rep.nt_xent(a, a.clone(), temperature=1.0).item() == pytest.approx(expected, rel=1e-6)
    # at random initialisation the twin is one of 2n - 1 candidates: the loss is near log(2n - 1)
    z = torch.randn(64, 16)
    assert rep.nt_xent(z, torch.randn(64, 16)).item() == pytest.approx(math.log(127), abs=0.3)


def test_nt_xent_prefers_matched_twins():
    a = torch.randn(32, 8)
    matched = rep.nt_xent(a, a + 0.01 * torch.randn(32, 8))
    shuffled = rep.nt_xent(a, a[torch.randperm(32)])
    assert matched < shuffled


def test_augment_is_seeded_keeps_the_background_and_varies():
    x = torch.rand(6, 1, 32, 32) * 2 - 1
    one = rep.augment(x, torch.Generator().manual_seed(3))
    again = rep.augment(x, torch.Generator().manual_seed(3))
    other = rep.augment(x, torch.Generator().manual_seed(4))
    assert one.shape == x.shape and torch.equal(one, again) and not torch.equal(one, other)
    assert one.min() >= -1 - 1e-6 and one.max() <= 1 + 1e-6
    black = -torch.ones(3, 1, 32, 32)  # an empty image stays empty: contrast scales around -1
    assert torch.allclose(rep.augment(black, torch.Generator().manual_seed(0)), black, atol=1e-6)


def test_augment_with_the_whole_image_only_mirrors_and_scales_contrast():
    x = torch.rand(8, 1, 32, 32) * 2 - 1
    view = rep.augment(x, torch.Generator().manual_seed(0), min_crop=1.0)
    for v, original in zip(view, x):  # v + 1 = c (x + 1), or of the mirror image, for one c in [0.6, 1]
        matches = []
        for candidate in (original, original.flip(-1)):
            c = ((v + 1) / (candidate + 1)).median()
            matches.append(0.6 - 1e-4 <= c <= 1 + 1e-4 and torch.allclose(v + 1, c * (candidate + 1), atol=1e-4))
        assert any(matches)


def test_rotate_by_quarter_turns():
    x = torch.arange(2 * 16, dtype=torch.float32).view(2, 1, 4, 4)
    turns = torch.tensor([1, 3])
    out = rep.rotate(x, turns)
    assert torch.equal(out[0], torch.rot90(x[0], 1, dims=(1, 2)))
    assert torch.equal(out[1], torch.rot90(x[1], 3, dims=(1, 2)))
    assert torch.equal(rep.rotate(rep.rotate(x, torch.tensor([2, 2])), torch.tensor([2, 2])), x)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown kind"):
        rep.RepresentationConfig(kind="vae")


@pytest.mark.parametrize("kind", [k for k in rep.KINDS if k != "bigan"])
def test_each_step_logs_its_terms_and_trains_what_it_should(kind):
    cfg = rep.RepresentationConfig(kind=kind)
    G, D = rep.build(TINY)
    g_before = [p.clone() for p in G.parameters()]
    d_before = [p.clone() for p in D.features.parameters()]
    opt_g, opt_d = (torch.optim.Adam(m.parameters(), lr=1e-3) for m in (G, D))
    x, g = torch.rand(8, 1, 32, 32) * 2 - 1, torch.Generator().manual_seed(0)
    if kind == "simclr":
        stats = rep.simclr_step(D, opt_d, x, g, cfg)
    else:
        stats = rep.gan_step(G, D, opt_g, opt_d, x, torch.randn(8, 8), g, cfg)
    expected = {"dcgan": {"d_loss", "g_loss"}, "simclr": {"nt_xent"},
                "contrastive": {"d_loss", "g_loss", "nt_xent"}, "rotation": {"d_loss", "g_loss", "rotation_ce"}}
    assert set(stats) == expected[kind]
    assert all(torch.isfinite(v) for v in stats.values())
    assert all(not torch.equal(a, b) for a, b in zip(d_before, D.features.parameters()))
    g_moved = any(not torch.equal(a, b) for a, b in zip(g_before, G.parameters()))
    assert g_moved == (kind != "simclr")  # SimCLR has no generator to train


def test_the_body_starts_as_chapter_3s_discriminator():
    _, D = rep.build(TINY, seed=5)
    _, E, _ = rep.build_bigan(TINY, seed=5)
    _, reference = models.build_dcgan(TINY, seed=5)
    for body in (D.features, E.features):  # the descriptor body of every kind, BiGAN's encoder included
        for a, b in zip(body.state_dict().values(), reference.features.state_dict().values()):
            assert torch.equal(a, b)


def test_bigan_step_trains_the_encoder_and_the_generator_against_a_pair_critic():
    G, E, D = rep.build_bigan(TINY)
    x, z = torch.rand(8, 1, 32, 32) * 2 - 1, torch.randn(8, 8)
    assert E(x).shape == (8, 8) and D(x, z).shape == (8,)
    assert not torch.equal(D(x, z), D(x, z.flip(0)))  # the critic sees the code, not the image alone
    before = {name: [p.clone() for p in m.parameters()] for name, m in [("G", G), ("E", E), ("D", D)]}
    opt_ge = torch.optim.Adam([*G.parameters(), *E.parameters()], lr=1e-3)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
    stats = rep.bigan_step(G, E, D, opt_ge, opt_d, x, z)
    assert set(stats) == {"d_loss", "ge_loss"} and all(torch.isfinite(v) for v in stats.values())
    for name, m in [("G", G), ("E", E), ("D", D)]:
        assert all(not torch.equal(a, b) for a, b in zip(before[name], m.parameters())), name
    # at the start D cannot tell the pairs apart: both losses are near 2 log 2
    assert stats["d_loss"].item() == pytest.approx(2 * math.log(2), abs=0.2)


@pytest.mark.parametrize("kind", ["contrastive", "bigan"])
def test_training_resumes_to_the_same_weights(tmp_path, monkeypatch, kind):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "_toc.yml").write_text("root: x\n")
    stored = (np.random.default_rng(1).random((16, 28, 28)) * 255).astype(np.uint8)
    cfg = rep.RepresentationConfig(kind=kind)

    def fit(name, until=None):
        return rep.train(name, TINY, cfg, FitConfig(steps=4, batch_size=8, checkpoint_every=2), stored, "test",
                         progress=False, until=until)

    whole = fit("whole")
    assert fit("part", until=2).step == 2
    resumed = fit("part")
    assert resumed.step == 4
    for a, b in zip(rep.descriptor_body(whole).state_dict().values(),
                    rep.descriptor_body(resumed).state_dict().values()):
        assert torch.equal(a, b)
    assert rep.descriptor_body(whole) is whole.modules["E" if kind == "bigan" else "D"].features


def test_choose_on_validation_picks_the_best_row():
    from ganret_lib.retrieval import protocol

    rng = np.random.default_rng(0)
    yb, yq = np.repeat(np.arange(4), 20), np.repeat(np.arange(4), 5)
    stored = lambda y: np.clip(rng.normal(60 * y[:, None, None], 30, (len(y), 28, 28)), 0, 255).astype(np.uint8)  # noqa: E731
    val = protocol.Split(stored(yb), yb, stored(yq), yq, np.arange(80), np.arange(20), dataset="toy",
                         split_sizes=(80, 20))
    _, D = rep.build(TINY)
    choice, rows = rep.choose_on_validation(D.features, val, [[0], [0, 1]], [4, 8], device="cpu")
    assert len(rows) == 4 and {r["pca_dim"] for r in rows} == {4, 8}
    best = max(rows, key=lambda r: r["map_all"])
    assert choice == {"layers": best["layers"], "dim": best["pca_dim"], "power": 1.0, "whitening": 0.0}
    # with post-processing: swept at the chosen layers and size only, the best of all six kept
    choice, rows = rep.choose_on_validation(D.features, val, [[0], [0, 1]], [4, 8], device="cpu",
                                            powers=(1.0, 0.5), whitenings=(0.0, 0.5, 1.0))
    swept = rows[4:]
    assert len(rows) == 9 and all(r["layers"] == best["layers"] and r["pca_dim"] == best["pca_dim"] for r in swept)
    winner = max([best, *swept], key=lambda r: r["map_all"])
    assert (choice["power"], choice["whitening"]) == (winner["power"], winner["whitening"])
