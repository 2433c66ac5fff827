"""GAN losses computed from discriminator logits, numerically stable (chapter 2).

With D(x) = sigmoid(l(x)): log D = -softplus(-l) and log(1 - D) = -softplus(l), which never
evaluate log(0) however confident the discriminator is.

The value function of the minimax game (Goodfellow et al. 2014):
    V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))],   min_G max_D V.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

G_LOSSES = ("non_saturating", "saturating")


def value(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Monte-Carlo estimate of V(D, G) from logits on real and generated samples."""
    return -F.softplus(-real_logits).mean() - F.softplus(fake_logits).mean()


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator minimises -V: binary cross-entropy with real = 1 and fake = 0."""
    return -value(real_logits, fake_logits)


def g_loss(fake_logits: torch.Tensor, kind: str = "non_saturating") -> torch.Tensor:
    """Generator loss: "saturating" = E log(1 - D(G(z))) (the minimax term, minimised);
    "non_saturating" = -E log D(G(z)) (same fixed point, strong gradients early on)."""
    if kind == "non_saturating":
        return F.softplus(-fake_logits).mean()
    if kind == "saturating":
        return -F.softplus(fake_logits).mean()
    raise ValueError(f"unknown generator loss {kind!r}; use one of {G_LOSSES}")
