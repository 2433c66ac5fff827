import math

import pytest
import torch

from ganret_lib.gan import losses


def test_losses_match_closed_forms():
    real, fake = torch.tensor([0.0, 2.0]), torch.tensor([-1.0, 0.5])
    D_real, D_fake = torch.sigmoid(real), torch.sigmoid(fake)
    v = torch.log(D_real).mean() + torch.log(1 - D_fake).mean()
    assert losses.value(real, fake).item() == pytest.approx(v.item(), abs=1e-6)
    assert losses.d_loss(real, fake).item() == pytest.approx(-v.item(), abs=1e-6)
    assert losses.g_loss(fake, "saturating").item() == pytest.approx(torch.log(1 - D_fake).mean().item(), abs=1e-6)
    assert losses.g_loss(fake).item() == pytest.approx(-torch.log(D_fake).mean().item(), abs=1e-6)


def test_value_at_the_equilibrium_is_minus_log_4():
    zeros = torch.zeros(10)  # D = 1/2 everywhere
    assert losses.value(zeros, zeros).item() == pytest.approx(-math.log(4))


def test_stable_for_confident_discriminators():
    real, fake = torch.tensor([200.0]), torch.tensor([-200.0])
    for loss in (losses.d_loss(real, fake), losses.g_loss(fake), losses.g_loss(fake, "saturating")):
        assert torch.isfinite(loss)
    assert losses.g_loss(fake).item() == pytest.approx(200.0)  # -log sigmoid(-200)


def test_gradient_of_saturating_loss_vanishes_where_non_saturating_does_not():
    fake = torch.tensor([-8.0], requires_grad=True)  # D(G(z)) ~ 3e-4: confidently rejected
    (sat,) = torch.autograd.grad(losses.g_loss(fake, "saturating"), fake)
    (non,) = torch.autograd.grad(losses.g_loss(fake), fake)
    assert sat.item() == pytest.approx(-torch.sigmoid(torch.tensor(-8.0)).item())  # ~ -3e-4
    assert non.item() == pytest.approx(-(1 - torch.sigmoid(torch.tensor(-8.0))).item())  # ~ -1


def test_unknown_loss():
    with pytest.raises(ValueError, match="non_saturating"):
        losses.g_loss(torch.zeros(1), "wasserstein")


def test_toy_gan_learns_a_1d_gaussian_and_is_deterministic():
    from ganret_lib.gan import toy

    def real(n, g):
        return 1.0 + 0.5 * torch.randn(n, 1, generator=g)

    cfg = toy.ToyGANConfig(data_dim=1, z_dim=1, hidden=32, depth=2, steps=600, batch=128)
    G, D, hist = toy.train_toy_gan(real, cfg, progress=False)
    with torch.no_grad():
        x = G(torch.randn(4000, 1))
    assert abs(x.mean().item() - 1.0) < 0.2 and abs(x.std().item() - 0.5) < 0.2
    _, _, again = toy.train_toy_gan(real, cfg, progress=False)
    assert again["d_loss"] == hist["d_loss"]  # same seed, same run


def test_js_divergence_closed_forms():
    import numpy as np

    from ganret_lib.gan import toy

    x = np.linspace(-10, 10, 20001)
    dx = x[1] - x[0]
    p = toy.gaussian_pdf(x, 0, 1)
    assert toy.js_divergence(p, p, dx) == pytest.approx(0, abs=1e-12)
    a = ((x >= 0) & (x < 1)).astype(float)
    b = ((x >= 2) & (x < 3)).astype(float)
    assert toy.js_divergence(a / (a.sum() * dx), b / (b.sum() * dx), dx) == pytest.approx(math.log(2))


def test_the_losses_push_each_player_the_right_way():
    """A few discriminator steps on separable data raise D(x) and lower D(G(z)); a generator
    step raises D(G(z)). A swapped or sign-flipped loss moves them the other way."""
    torch.manual_seed(0)
    real, fake = torch.randn(256, 1) * 0.1 + 2, torch.randn(256, 1) * 0.1 - 2
    D = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(D.parameters(), lr=0.1)
    before = torch.sigmoid(D(real)).mean().item(), torch.sigmoid(D(fake)).mean().item()
    for _ in range(5):
        opt.zero_grad()
        losses.d_loss(D(real), D(fake)).backward()
        opt.step()
    after = torch.sigmoid(D(real)).mean().item(), torch.sigmoid(D(fake)).mean().item()
    assert after[0] > before[0] and after[1] < before[1]
    shift = torch.zeros(1, requires_grad=True)  # a generator that can only translate its samples
    for kind in losses.G_LOSSES:
        shift.grad = None
        losses.g_loss(D(fake + shift), kind).backward()
        with torch.no_grad():
            moved = torch.sigmoid(D(fake + shift - 0.1 * shift.grad)).mean()
            assert moved > torch.sigmoid(D(fake + shift)).mean(), kind
