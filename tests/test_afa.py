import copy

import numpy as np
import pytest
import torch

from ganret_lib.core import runs
from ganret_lib.core.loop import FitConfig
from ganret_lib.gan import quality, unet
from ganret_lib.methods import afa


@pytest.fixture(autouse=True)
def deterministic():
    runs.seed_everything(0, threads=1)


def test_network_shapes():
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    assert unet.UNet(8)(x).shape == (3, 1, 32, 32)
    assert unet.PatchDiscriminator(8)(x).shape == (3, 1, 8, 8)


def test_fusion_scores_are_weighted_cosines():
    rng = np.random.default_rng(0)
    a, b, c, d = (rng.normal(size=(1, 5)) for _ in range(4))
    def cos(u, v):
        return (u @ v.T).item() / np.linalg.norm(u) / np.linalg.norm(v)

    q, x = afa.fuse(a, b, 0.3), afa.fuse(c, d, 0.3)
    assert np.isclose((q @ x.T).item(), 0.3 * cos(a, c) + 0.7 * cos(b, d), atol=1e-6)
    p, r = np.array([[0.9, 0.1]]), np.array([[0.2, 0.8]])
    s = afa.with_decision(q, p, 0.25) @ afa.with_decision(x, r, 0.25).T
    assert np.isclose(s.item(), 0.75 * (q @ x.T).item() + 0.25 * (0.9 * 0.2 + 0.1 * 0.8), atol=1e-6)
    with pytest.raises(ValueError, match="fusion weight"):
        afa.fuse(a, b, 1.5)


def test_restore_keeps_uint8_images():
    images = (np.random.default_rng(0).random((4, 28, 28)) * 255).astype(np.uint8)
    out = afa.restore(unet.UNet(8), images)
    assert out.shape == (4, 28, 28) and out.dtype == np.uint8
    feats, post = afa.features_and_posteriors(quality.SmallCNN(16), out)
    assert feats.shape == (4, 16) and np.allclose(post.sum(1), 1, atol=1e-5)


def test_database_features_equal_one_pass_over_each_protocols_database():
    from ganret_lib.retrieval import protocol

    rng = np.random.default_rng(0)
    images = (rng.random((1300, 28, 28)) * 255).astype(np.uint8)
    labels = rng.integers(0, 10, 1300)
    split = protocol.Split(images[:1000], labels[:1000], images[1000:], labels[1000:],
                           np.arange(1000), np.arange(300))
    F = quality.SmallCNN(16).eval()
    found = afa.database_features(F, split)
    for level, s in [("class", split), ("instance", protocol.with_clean_copies(split))]:
        direct = afa.features_and_posteriors(F, s.xb)
        assert all(np.array_equal(a, b) for a, b in zip(found[level], direct))


@pytest.mark.parametrize("adv_weight", [1.0, 0.0])
def test_cleaner_trains_without_touching_the_classifier(tmp_path, monkeypatch, adv_weight):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "_toc.yml").write_text("root: x\n")
    classifier = quality.SmallCNN(16)
    before = {k: v.clone() for k, v in classifier.state_dict().items()}
    images = (np.random.default_rng(0).random((32, 28, 28)) * 255).astype(np.uint8)
    cfg = afa.CleanerConfig(width=4, adv_weight=adv_weight)
    fitter = afa.train_cleaner("cleaner", classifier, images, cfg, FitConfig(steps=3, batch_size=8),
                               classifier_id="test", progress=False)
    assert fitter.step == 3
    assert all(torch.equal(before[k], v) for k, v in classifier.state_dict().items())
    assert all(p.requires_grad for p in classifier.parameters())
    stats = (fitter.run_dir / "stats.jsonl").read_text()
    assert ("d_loss" in stats) == (adv_weight > 0)


def test_query_and_database_descriptors_line_up():
    images = (np.random.default_rng(1).random((6, 28, 28)) * 255).astype(np.uint8)
    F = quality.SmallCNN(16).eval()
    f_db, p_db = afa.features_and_posteriors(F, images)
    db = afa.database_descriptors(f_db, p_db, 0.5, 0.5)
    cleaners = {"": unet.UNet(4), " (no adversary)": unet.UNet(4)}
    feats = afa.query_features(F, cleaners, images)
    assert list(feats) == ["x~", "median", "G", "G (no adversary)"]
    queries = afa.query_descriptors(feats, 0.5, 0.5)
    assert len(queries) == 8 and "fused + decision (no adversary)" in queries
    for method, (q, key, _) in queries.items():
        assert q.shape[1] == db[key].shape[1], method
    # another F: its name in every method, the fused ones tagged; no median filter asked for
    other = afa.query_descriptors(afa.query_features(F, {"": cleaners[""]}, images, median=False), 0.5, 0.5,
                                  name="F_aug")
    assert list(other) == ["F_aug on the degraded query", "F_aug on G(x~)", "fused (F_aug)",
                           "fused + decision (F_aug)"]
    # a clean query against its own clean database copy: the F-half of the fused score is 1
    np.testing.assert_allclose(np.diag(afa.fuse(f_db, f_db, 1.0) @ db["fused"].T), np.sqrt(0.5), rtol=1e-5)
    filtered = afa.median_filter(np.pad(np.full((1, 3, 3), 200, np.uint8), ((0, 0), (1, 1), (1, 1))))
    assert filtered[0, 2, 2] == 200 and filtered[0, 0, 0] == 0


def test_patch_discriminator_sees_18_by_18_patches():
    D = unet.PatchDiscriminator(4).eval()
    x = torch.zeros(1, 1, 32, 32, requires_grad=True)
    D(x)[0, 0, 4, 4].backward()
    rows, cols = np.nonzero(x.grad[0, 0].numpy())
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (9, 26, 9, 26)  # 18 x 18


def cleaner_pair(adv_weight, rec_weight, feat_weight):
    """A tiny cleaner, its discriminator, copies of both, and one step on a fixed batch."""
    torch.manual_seed(0)
    G, D, classifier = unet.UNet(4), unet.PatchDiscriminator(4), quality.SmallCNN(8).eval()
    before = copy.deepcopy(G), copy.deepcopy(D)
    opt_g, opt_d = (torch.optim.SGD(m.parameters(), lr=0.01) for m in (G, D))
    real = torch.rand(8, 1, 32, 32) * 2 - 1
    degraded = (real + 0.5 * torch.randn_like(real)).clamp(-1, 1)
    cfg = afa.CleanerConfig(width=4, adv_weight=adv_weight, rec_weight=rec_weight, feat_weight=feat_weight)
    stats = afa.cleaner_step(G, D, classifier, opt_g, opt_d, real, degraded, cfg)
    return (G, D), before, classifier, real, degraded, stats


def mean_d(D, x):
    with torch.no_grad():
        return torch.sigmoid(D(x)).mean().item()


def test_cleaner_step_adversary_moves_each_player_the_right_way():
    (G, D), (G0, D0), _, real, degraded, stats = cleaner_pair(1.0, 0.0, 0.0)
    with torch.no_grad():
        restored_before = G0(degraded)
        restored_after = G(degraded)
    assert mean_d(D, real) > mean_d(D0, real)  # D learns clean images are real
    assert mean_d(D, restored_before) < mean_d(D0, restored_before)  # ... and G's outputs fake
    assert mean_d(D, restored_after) > mean_d(D, restored_before)  # G learns to fool the new D
    assert set(stats) == {"d_loss", "adv", "l1", "feat"}


@pytest.mark.parametrize("term", ["l1", "feat"])
def test_cleaner_step_lowers_each_reconstruction_term(term):
    weights = (0.0, 1.0, 0.0) if term == "l1" else (0.0, 0.0, 10.0)
    (G, D), (G0, D0), classifier, real, degraded, stats = cleaner_pair(*weights)
    with torch.no_grad():
        def loss(g):
            restored = g(degraded)
            if term == "l1":
                return torch.nn.functional.l1_loss(restored, real).item()
            return afa.feature_consistency(classifier, restored, real).item()

        assert loss(G) < loss(G0)
        assert stats[term].item() == pytest.approx(loss(G0), rel=1e-5)
    assert all(torch.equal(a, b) for a, b in zip(D.state_dict().values(), D0.state_dict().values()))
    assert set(stats) == {"l1", "feat"}  # no adversary: D untouched, no adversarial stats


def test_feature_consistency_is_one_minus_the_cosine_of_f():
    class Body(torch.nn.Module):  # F.body as the identity on 2-d "images"
        body = torch.nn.Identity()

    x = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    same, turned = x.clone(), torch.tensor([[0.0, 3.0], [0.0, -1.0]])  # cosines 1, 1 and 0, -1
    assert afa.feature_consistency(Body(), same, x).item() == pytest.approx(0.0, abs=1e-7)
    assert afa.feature_consistency(Body(), turned, x).item() == pytest.approx((1 + 2) / 2)


def test_cleaner_differences_are_zero_for_the_reference_and_grow_with_damage():
    F = quality.SmallCNN(16).eval()
    clean = (np.random.default_rng(2).random((64, 28, 28)) * 255).astype(np.uint8)
    darker = (clean // 2).astype(np.uint8)
    out = afa.cleaner_differences({"same": clean, "darker": darker}, clean, F)
    assert out["same"]["pixel_l1"] == 0 and abs(out["same"]["fd"]) < 1e-6
    expected = np.abs(darker.astype(float) - clean).mean() / 255
    assert out["darker"]["pixel_l1"] == pytest.approx(expected) and out["darker"]["fd"] > 0


def test_choose_weights_prefers_the_cleaned_features_when_only_they_carry_the_item():
    from ganret_lib.retrieval import protocol

    rng = np.random.default_rng(3)
    yb, yq = np.repeat(np.arange(4), 20), np.arange(4).repeat(5)
    xb, xq = rng.normal(size=(80, 8)), rng.normal(size=(20, 8))
    f_db = np.vstack([xb, xq]).astype(np.float32)
    p_db = np.eye(4)[np.concatenate([yb, yq])].astype(np.float32)
    split = protocol.with_clean_copies(protocol.Split(xb, yb, xq, yq, np.arange(80), np.arange(20)))
    # F on the degraded query is noise; F on G's output is the clean copy's feature, a little off
    feats = {"noise": {"x~": (rng.normal(size=(20, 8)).astype(np.float32), p_db[80:]),
                       "G": ((xq + 0.05 * rng.normal(size=xq.shape)).astype(np.float32), p_db[80:])}}
    weights = (0.0, 0.5, 1.0)
    study = afa.choose_weights(feats, f_db, p_db, split, weights)
    assert study["w_best"] == 0.0 and study["beta_best"] == 0.0  # posteriors tie a whole class
    assert len(study["w"]["noise"]) == 3 and study["w"]["noise"][0] == 1.0  # every copy found first
    assert study["w"]["noise"][2] < 0.5
    assert afa.headline(split) == "mrr"
