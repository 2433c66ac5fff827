# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -papermill,-execution
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# (ch-gan-theory)=
# # 2. GANs from first principles
#
# A GAN {cite}`goodfellow2014gan` is a two-player game between a generator and a discriminator.
# This chapter derives what the game optimises, checks every step numerically on distributions
# whose densities we know, and shows why practice departs from the theory in one place (the
# generator's loss). Both source articles get this part wrong; the {doc}`errata page <../book/errata>`
# lists their errors and the last section of this chapter shows them in code.
#
# **You will learn**
# - the value function $V(D, G)$ and what each player optimises;
# - to derive the optimal discriminator $D^*$ and the identity $C(G) = -\log 4 + 2\,\mathrm{JSD}(p_\mathrm{data} \,\|\, p_g)$;
# - why generators are trained with the non-saturating loss $-\log D(G(z))$;
# - the training algorithm as it really is, alternating stochastic gradient steps;
# - what mode coverage and mode collapse look like on a 2-D mixture of Gaussians.

# %% tags=["remove-cell"]
# On Colab: install the library at the commit this page was executed with
# (`make execute` pins it; the repository is set in _config.yml; the variable
# GANRET_INSTALL overrides the source, e.g. a fork's URL).
import importlib
import os
import sys

if "google.colab" in sys.modules:
    repository = "https://github.com/ganret/ganret"  # _config.yml
    commit = "06ba343f092241e8ae4a73a570219ec5df83f051"  # of this run
    source = os.environ.get("GANRET_INSTALL", f"git+{repository}@{commit}")
    # %pip install -q "ganret_lib @ {source}"
    importlib.invalidate_caches()  # so that this kernel imports the new install
    print(f"installed ganret_lib from {source}")

# %% tags=["parameters"]
# "smoke" (seconds), "quick" (the default, CPU minutes) or "full" (headline)
profile = "quick"
seed = 0

# %%
import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from scipy.stats import wasserstein_distance

from ganret_lib.core import runs
from ganret_lib.gan import dcgan, losses, models, toy

# %% tags=["hide-input"]
@dataclass
class Config:
    dstar_steps: int  # steps to fit D against a fixed generator distribution
    ring_steps: int  # generator steps of the 2-D GAN
    ring_seeds: int  # independent runs per generator loss
    toy_1d_steps: int  # steps of the 1-D runs in the errata section


config = runs.profile_config(profile, {
    "smoke": Config(dstar_steps=100, ring_steps=60, ring_seeds=1,
                    toy_1d_steps=60),
    "quick": Config(dstar_steps=2000, ring_steps=2000, ring_seeds=3,
                    toy_1d_steps=1500),
    "full": Config(dstar_steps=6000, ring_steps=8000, ring_seeds=5,
                   toy_1d_steps=4000),
})
runs.seed_everything(seed)
plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})
started = time.time()
config

# %% [markdown]
# ## The game
#
# A generator $G$ maps noise $z \sim p_z$ (say, a standard Gaussian) to samples $G(z)$; their
# distribution is $p_g$. A discriminator $D$ maps a sample $x$ to $D(x) \in (0, 1)$, its belief
# that $x$ came from the data rather than from $G$. The two play
#
# $$
# \min_G \max_D V(D, G), \quad \text{where} \quad
# \begin{aligned}[t]
# V(D, G) = {} & \mathbb{E}_{x \sim p_\mathrm{data}}\big[\log D(x)\big] \\
#             & + \mathbb{E}_{z \sim p_z}\big[\log\big(1 - D(G(z))\big)\big].
# \end{aligned}
# $$
#
# $D$ *maximises* $V$: it wants $D(x) \to 1$ on data and $D(G(z)) \to 0$ on samples, which is
# exactly minimising the binary cross-entropy with labels 1 (real) and 0 (fake). $G$ *minimises*
# $V$; only the second term depends on it, so $G$ wants $D(G(z)) \to 1$. It is a minimax game, not
# the minimisation of one loss: there is no single objective that both players decrease.

# %% tags=["hide-input"]
toy.game_diagram();

# %% [markdown]
# $D$ sees real samples and $G$'s samples and never knows which player made which until it is
# scored; $G$ never sees the data at all, only $D$'s verdict on its own samples.
#
# In code, $D$ returns a logit $\ell$ with $D = \sigma(\ell)$, and the library evaluates
# $\log D = -\operatorname{softplus}(-\ell)$ and $\log(1 - D) = -\operatorname{softplus}(\ell)$, which
# stay finite however confident $D$ is (`ganret_lib.gan.losses`).
#
# ## The optimal discriminator
#
# Fix $G$. Since $x = G(z)$ has distribution $p_g$, the second expectation can be taken over $x$:
#
# $$
# V(D, G) = \int \Big( p_\mathrm{data}(x) \log D(x) + p_g(x) \log\big(1 - D(x)\big) \Big)\, dx .
# $$
#
# $D$ may choose $D(x)$ separately at every $x$, so we maximise the integrand pointwise. For
# $a, b \ge 0$ not both zero, $f(y) = a \log y + b \log(1 - y)$ on $(0, 1)$ has
# $f'(y) = a/y - b/(1-y)$, which vanishes at $y = a/(a+b)$, and $f''(y) = -a/y^2 - b/(1-y)^2 < 0$,
# so that point is the maximum. Hence
#
# $$
# D^*_G(x) = \frac{p_\mathrm{data}(x)}{p_\mathrm{data}(x) + p_g(x)}
# $$
#
# wherever $p_\mathrm{data} + p_g > 0$ (elsewhere $D$ does not affect $V$).
#
# **Check.** Take $p_\mathrm{data} = \mathcal N(0, 1)$ and a fixed "generator" $p_g = \mathcal N(1.5, 0.7^2)$,
# train a small discriminator on samples with the library's `losses.d_loss`, and compare it with
# $D^*$. The error is averaged over the mixture $m = (p_\mathrm{data} + p_g)/2$, where $D$ sees data.

# %%
x = np.linspace(-4, 5, 2001)
dx = x[1] - x[0]
p_data, p_g = toy.gaussian_pdf(x, 0, 1), toy.gaussian_pdf(x, 1.5, 0.7)
d_star = p_data / (p_data + p_g)

D1 = toy.fit_discriminator(
    lambda n, g: torch.randn(n, 1, generator=g),  # p_data = N(0, 1)
    lambda n, g: 1.5 + 0.7 * torch.randn(n, 1, generator=g),  # p_g
    steps=config.dstar_steps, seed=seed)
with torch.no_grad():
    logits = D1(torch.from_numpy(x[:, None]).float())
    d_fit = torch.sigmoid(logits).numpy().ravel()
m = (p_data + p_g) / 2
err_1d = float(np.sum(m * np.abs(d_fit - d_star)) * dx)
print(f"1-D: mean |D - D*| under the mixture = {err_1d:.3f}")

# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(x, p_data, color="0.3", label=r"$p_\mathrm{data}$")
ax.plot(x, p_g, color="0.6", ls="--", label=r"$p_g$")
ax.plot(x, d_star, color="C0", lw=2, label=r"$D^*$ (closed form)")
ax.plot(x, d_fit, color="C3", ls=":", lw=2,
        label=f"trained $D$ ({config.dstar_steps} steps)")
ax.set(xlabel="x", title="The trained discriminator approaches the optimal one")
ax.title.set_fontsize(9)
ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# The same check in two dimensions: data from a ring of 8 Gaussians, a fixed generator
# distribution $\mathcal N(0, 1.5^2 I)$.

# %%
ring_std = 0.25
grid = np.linspace(-3.5, 3.5, 141)
points = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)
area = (grid[1] - grid[0]) ** 2
p_data2 = toy.ring_density(points, std=ring_std)
p_g2 = np.exp(-(points**2).sum(1) / (2 * 1.5**2)) / (2 * np.pi * 1.5**2)
d_star2 = p_data2 / (p_data2 + p_g2)
D2 = toy.fit_discriminator(lambda n, g: toy.sample_ring(n, g, std=ring_std),
                           lambda n, g: 1.5 * torch.randn(n, 2, generator=g),
                           steps=config.dstar_steps, seed=seed, data_dim=2)
with torch.no_grad():
    logits = D2(torch.from_numpy(points).float())
    d_fit2 = torch.sigmoid(logits).numpy().ravel()
mixture = (p_data2 + p_g2) / 2
err_2d = float(np.sum(mixture * np.abs(d_fit2 - d_star2)) * area)
print(f"2-D: mean |D - D*| under the mixture = {err_2d:.3f}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(9, 3))
panels = {r"$D^*$": d_star2, "trained $D$": d_fit2,
          r"$|D - D^*|$": np.abs(d_fit2 - d_star2)}
for ax, (title, img) in zip(axes, panels.items()):
    im = ax.imshow(img.reshape(len(grid), len(grid)), origin="lower",
                   extent=[-3.5, 3.5, -3.5, 3.5], vmin=0, vmax=1,
                   cmap="viridis")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([]), ax.set_yticks([])
fig.colorbar(im, ax=axes, shrink=0.8)
plt.show()

# %% [markdown]
# ## What the generator minimises: the Jensen–Shannon divergence
#
# Put $D^*_G$ back into $V$. Writing $m = (p_\mathrm{data} + p_g)/2$,
#
# $$
# \begin{aligned}
# C(G) = \max_D V(D, G)
# &= \mathbb{E}_{p_\mathrm{data}}\Big[\log \frac{p_\mathrm{data}}{p_\mathrm{data} + p_g}\Big]
#  + \mathbb{E}_{p_g}\Big[\log \frac{p_g}{p_\mathrm{data} + p_g}\Big] \\
# &= \mathbb{E}_{p_\mathrm{data}}\Big[\log \frac{p_\mathrm{data}}{2m}\Big]
#  + \mathbb{E}_{p_g}\Big[\log \frac{p_g}{2m}\Big]
#  = -\log 4 + \mathrm{KL}(p_\mathrm{data} \,\|\, m) + \mathrm{KL}(p_g \,\|\, m) \\
# &= -\log 4 + 2\,\mathrm{JSD}(p_\mathrm{data} \,\|\, p_g).
# \end{aligned}
# $$
#
# The step to the last line is only the definition
# $\mathrm{JSD}(p \,\|\, q) = \tfrac12 \mathrm{KL}(p \,\|\, m) + \tfrac12 \mathrm{KL}(q \,\|\, m)$; no
# inequality is involved. Since $\mathrm{JSD} \ge 0$ with equality exactly when $p_g = p_\mathrm{data}$,
# the global minimum of $C$ is $-\log 4$, reached only at $p_g = p_\mathrm{data}$, where
# $D^* = 1/2$ everywhere.
#
# **Check.** For several generator distributions $p_g = \mathcal N(\mu, s^2)$, compute $C(G)$ by
# numerical integration of $V(D^*, G)$, and independently $-\log 4 + 2\,\mathrm{JSD}$ from the
# definition of JSD. Also evaluate $V$ for the trained discriminator above by Monte Carlo: a
# discriminator that is not optimal can only do worse, $V(D, G) \le C(G)$.

# %%
checks = []
xs = np.linspace(-12, 14, 26001)
h = xs[1] - xs[0]
log_p = -0.5 * xs**2 - 0.5 * np.log(2 * np.pi)
for mu, s in [(0.0, 1.0), (0.5, 1.0), (1.5, 0.7), (3.0, 1.0), (8.0, 0.5)]:
    log_q = -0.5 * ((xs - mu) / s) ** 2 - np.log(s * np.sqrt(2 * np.pi))
    # log D* and log(1 - D*) from logs: no log(0) in the tails
    log_sum = np.logaddexp(log_p, log_q)
    c_g = np.sum(np.exp(log_p) * (log_p - log_sum)
                 + np.exp(log_q) * (log_q - log_sum)) * h
    jsd = toy.js_divergence(np.exp(log_p), np.exp(log_q), h)
    checks.append((mu, s, c_g, -np.log(4) + 2 * jsd))

# %%
# NBVAL_CHECK_OUTPUT
print(" p_g             C(G) by quadrature   -log 4 + 2 JSD   equal to 1e-9")
for mu, s, c_g, via_jsd in checks:
    agree = "yes" if abs(c_g - via_jsd) < 1e-9 else "NO"
    print(f" N({mu:3.1f}, {s:.1f}^2)   {c_g:18.6f} {via_jsd:16.6f}   {agree}")
print(f" -log 4 = {-np.log(4):.6f} (p_g = p_data);  "
      "0 = -log 4 + 2 log 2 (disjoint supports)")

# %%
g = torch.Generator().manual_seed(seed + 1)
with torch.no_grad():
    real = torch.randn(200_000, 1, generator=g)
    fake = 1.5 + 0.7 * torch.randn(200_000, 1, generator=g)
    v_trained = losses.value(D1(real), D1(fake)).item()
c_fixed = next(c for mu, s, c, _ in checks if mu == 1.5)
print(f"V(trained D, G) = {v_trained:.4f} <= C(G) = {c_fixed:.4f}")

# %% [markdown]
# ## Why $G$ is trained with $-\log D(G(z))$
#
# Early in training, samples are poor and $D$ rejects them confidently: $D(G(z)) \approx 0$.
# With $D = \sigma(\ell)$, the gradients of the two candidate generator losses with respect to
# the logit $\ell$ of a sample are
#
# $$
# \frac{\partial}{\partial \ell} \log\big(1 - \sigma(\ell)\big) = -\sigma(\ell) = -D,
# \qquad
# \frac{\partial}{\partial \ell} \big(-\log \sigma(\ell)\big) = -\big(1 - \sigma(\ell)\big) = -(1 - D).
# $$
#
# The minimax ("saturating") loss $\log(1 - D(G(z)))$ gives a gradient of size $D$, which vanishes
# exactly when the generator is worst. The non-saturating loss $-\log D(G(z))$ has the same fixed
# point (both push $D(G(z))$ up) but a gradient of size $1 - D \approx 1$ there
# {cite}`goodfellow2014gan`. It is a heuristic: with an optimal $D$ it minimises
# $\mathrm{KL}(p_g \,\|\, p_\mathrm{data}) - 2\,\mathrm{JSD}$, not the JSD {cite}`arjovsky2017principled`.
# The curves below are computed by autograd through `losses.g_loss`.

# %%
d_values = np.logspace(-4, np.log10(0.999), 200)
logits = torch.tensor(np.log(d_values / (1 - d_values)), requires_grad=True)
grads = {}
for kind in losses.G_LOSSES:
    # times the batch size: the gradient of each sample's own loss
    loss = losses.g_loss(logits, kind) * len(logits)
    (grad,) = torch.autograd.grad(loss, logits)
    grads[kind] = grad.abs().numpy()

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.2))
ax.loglog(d_values, grads["saturating"],
          label=r"saturating: $\log(1 - D(G(z)))$")
ax.loglog(d_values, grads["non_saturating"],
          label=r"non-saturating: $-\log D(G(z))$")
ax.axvspan(1e-4, 1e-2, color="0.9")
ax.text(1.3e-4, 2e-3, "early training:\nD rejects samples", fontsize=7)
ax.set(xlabel=r"$D(G(z))$", ylabel=r"|gradient w.r.t. the logit|",
       title="Generator gradients")
ax.title.set_fontsize(9)
ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# The same effect on a real network: fit a discriminator against an untrained generator (it
# quickly becomes confident), then compare the generator's gradient norm under both losses.

# %%
torch.manual_seed(seed)
G0 = toy.mlp(2, 2, 128, 3)
D0 = toy.fit_discriminator(
    lambda n, g: toy.sample_ring(n, g),
    lambda n, g: G0(torch.randn(n, 2, generator=g)).detach(),
    steps=max(50, config.dstar_steps // 4), hidden=128, seed=seed, data_dim=2)
fake_logits = D0(G0(torch.randn(4096, 2)))
norms = {}
for kind in losses.G_LOSSES:
    grads_g = torch.autograd.grad(losses.g_loss(fake_logits, kind),
                                  list(G0.parameters()), retain_graph=True)
    norms[kind] = torch.sqrt(sum((gr**2).sum() for gr in grads_g)).item()
d_fake = torch.sigmoid(fake_logits).mean().item()
print(f"mean D(G(z)) = {d_fake:.3f}; generator gradient norm: "
      f"saturating {norms['saturating']:.1e}, "
      f"non-saturating {norms['non_saturating']:.1e}")

# %% [markdown]
# ## The training algorithm
#
# GANs are trained by **alternating stochastic gradient steps** on the minimax objective
# (Algorithm 1 of {cite}`goodfellow2014gan`), here with Adam:
#
# ```text
# for each training iteration:
#     repeat k times:                       # discriminator steps
#         draw a minibatch of data x and of noise z
#         update D by descending  d_loss = -[ mean log D(x) + mean log(1 - D(G(z))) ]
#     draw a minibatch of noise z
#     update G by descending      g_loss = mean -log D(G(z))      (non-saturating)
# ```
#
# It is not the EM algorithm (there are no latent posteriors and no likelihood to bound), and
# training does not stop "when D is fooled": $D(G(z)) = 1/2$ is where an *optimal* $D$ sits at the
# game's equilibrium, while during training $D$ is never optimal and its outputs say little about
# sample quality. One stops after a fixed budget and judges samples by a measured criterion
# (later chapters use a Fréchet distance and retrieval metrics). `toy.train_toy_gan` implements the
# loop above in 30 lines.
#
# ## Learning, mode coverage and mode collapse
#
# Data: 8 Gaussians on a circle of radius 2, standard deviation 0.05. Generator and
# discriminator: MLPs with 3 hidden layers of 128 units. We train with both generator losses
# for several seeds and record, from 2,000 samples, how many modes receive at least 1 % of the
# samples within 3 standard deviations ("covered") and what fraction of samples lie that close to
# some mode ("high quality").

# %%
centers = toy.ring_centers()
ring_runs = {}
for kind in losses.G_LOSSES:
    for s in range(config.ring_seeds):
        cfg = toy.ToyGANConfig(steps=config.ring_steps, g_loss=kind,
                               seed=seed + s)
        every = max(1, config.ring_steps // 5)
        _, _, hist = toy.train_toy_gan(toy.sample_ring, cfg,
                                       snapshot_every=every)
        ring_runs[kind, s] = hist

# %%
first = {kind: ring_runs[kind, 0] for kind in losses.G_LOSSES}
steps_shown = sorted(first["non_saturating"]["snapshots"])
fig, axes = plt.subplots(2, len(steps_shown), sharex=True, sharey=True,
                         figsize=(1.9 * len(steps_shown), 4))
for row, kind in zip(axes, losses.G_LOSSES):
    for ax, step in zip(row, steps_shown):
        pts = first[kind]["snapshots"][step]
        ax.scatter(pts[:, 0], pts[:, 1], s=1, alpha=0.4, color="C3")
        ax.scatter(centers[:, 0], centers[:, 1], s=12, marker="x", color="k")
        ax.set(xlim=(-3, 3), ylim=(-3, 3), xticks=[], yticks=[])
        ax.set_title(f"step {step}", fontsize=8)
    row[0].set_ylabel(kind.replace("_", "-"), fontsize=8)
fig.suptitle(f"Generated samples over training (seed {seed}); "
             "crosses: the 8 modes", fontsize=9)
fig.tight_layout()
plt.show()

# %%
def smooth(v):
    return np.convolve(v, np.ones(50) / 50, mode="valid")


fig, axes = plt.subplots(1, 2, figsize=(10, 2.8), sharey=True)
for ax, kind in zip(axes, losses.G_LOSSES):
    hist = first[kind]
    ax.plot(smooth(hist["d_real"]), label="mean D(x)")
    ax.plot(smooth(hist["d_fake"]), label="mean D(G(z))")
    ax.axhline(0.5, color="0.5", lw=0.8, ls="--")
    ax.set(title=f"{kind.replace('_', '-')} generator loss",
           xlabel="generator step")
    ax.title.set_fontsize(9)
axes[0].legend(fontsize=7)
plt.show()

# %%
rows = []
for kind in losses.G_LOSSES:
    final = [ring_runs[kind, s]["snapshots"][config.ring_steps]
             for s in range(config.ring_seeds)]
    coverage = [toy.mode_coverage(f, centers, 0.05) for f in final]
    rows.append({"method": f"toy GAN, {kind} loss", "label_free": True,
                 "modes_covered": [c["modes_covered"] for c in coverage],
                 "high_quality": [round(c["high_quality"], 3)
                                  for c in coverage]})

# %%
table = ["| generator loss | modes covered (of 8), per seed "
         "| high-quality fraction, per seed |", "|---|---|---|"]
table += [f"| {r['method']} | {r['modes_covered']} | {r['high_quality']} |"
          for r in rows]
display(Markdown("\n".join(table)))

# %%
for r in rows:
    print(f"{r['method']}: mean modes covered "
          f"{np.mean(r['modes_covered']):.1f} of 8, "
          f"mean high-quality fraction {np.mean(r['high_quality']):.2f}")

# %% [markdown]
# Read the table for what it is: a few seeds of one small experiment. A generator can cover all
# modes or concentrate on a subset of them (partial **mode collapse**); which happens varies with
# the seed and the loss, and the samples tighten around the modes as training goes on. On this
# easy 2-D problem the discriminator never rejects the samples outright for long, so the
# saturating loss does not stall: the two losses trade mode coverage against sample quality
# rather than one failing. The gradient measurement above shows where the non-saturating loss
# matters: when $D$ rejects the samples outright, as it does early on with images.
#
# (sec-errata-code)=
# ## The sources' errors, in code
#
# ### A weighted sum of the two losses is not a GAN
#
# Source `000` (§4.1.3) writes the "overall loss" as $L = \lambda L_G + (1 - \lambda) L_D$ with
# $L_G = \mathbb{E}[\log D(G(z))]$ and $L_D = -\mathbb{E}[\log D(G(z))] - \mathbb{E}[\log(1 - D(x))]$.
# Minimising that $L$ with one optimiser over both networks gives
# $L = (2\lambda - 1)\,\mathbb{E}[\log D(G(z))] - (1 - \lambda)\,\mathbb{E}[\log(1 - D(x))]$: at
# $\lambda = 1/2$ the generator's terms cancel and it receives no gradient at all; for other
# $\lambda$ both networks push $D(G(z))$ the same way, so there is no game. Its $L_D$ also has the
# labels swapped: minimising it drives $D(x) \to 0$ on real data. We train it on a 1-D mixture of
# two Gaussians and compare with the alternating minimax training of the same networks, measuring
# the 1-Wasserstein distance between 5,000 generated and 5,000 real samples.

# %%
def bimodal(n, g):
    sign = torch.where(torch.rand(n, 1, generator=g) < 0.5, -2.0, 2.0)
    return sign + 0.5 * torch.randn(n, 1, generator=g)


cfg_1d = toy.ToyGANConfig(data_dim=1, z_dim=2, hidden=64, depth=2,
                          steps=config.toy_1d_steps, seed=seed)
g = torch.Generator().manual_seed(seed + 2)
real_1d = bimodal(5000, g)
z_eval = torch.randn(5000, 2, generator=g)


# %%
def summarise(name, G, D, moved=None):
    with torch.no_grad():
        fake = G(z_eval)
        w1 = wasserstein_distance(fake.numpy().ravel(), real_1d.numpy().ravel())
        row = {"training": name, "W1 to data": w1,
               "mean D(x)": torch.sigmoid(D(real_1d)).mean().item(),
               "mean D(G(z))": torch.sigmoid(D(fake)).mean().item()}
    return row | ({"G moved": moved} if moved is not None else {})


# %%
torch.manual_seed(seed)
G_init = toy.mlp(2, 1, 64, 2)  # train_weighted_sum starts from these weights
G_alt, D_alt, _ = toy.train_toy_gan(bimodal, cfg_1d)
experiments = [summarise("alternating minimax (non-saturating)", G_alt, D_alt)]
for lam in (0.25, 0.5, 0.75):
    G_ws, D_ws = toy.train_weighted_sum(bimodal, cfg_1d, lam)
    moved = max((a - b).abs().max().item()
                for a, b in zip(G_ws.parameters(), G_init.parameters()))
    experiments.append(summarise(f"weighted sum, lambda = {lam}", G_ws, D_ws,
                                 moved))

# %%
print(f"{'training':40s} {'W1':>8s} {'D(x)':>6s} {'D(G(z))':>8s}  "
      "largest change of a G weight")
for r in experiments:
    moved = f"{r['G moved']:.3g}" if "G moved" in r else ""
    print(f"{r['training']:40s} {r['W1 to data']:8.3g} {r['mean D(x)']:6.2f} "
          f"{r['mean D(G(z))']:8.2f}  {moved}")

# %% [markdown]
# The alternating game learns the two modes (a small W1); every weighted sum fails, and at
# $\lambda = 1/2$ the generator's weights do not move at all.
#
# ### The code listing does not run
#
# Source `000` §5.2 gives a PyTorch listing. Besides the undefined names `F`, `Image`, `device`
# and `noise_tensor` (used before it is created), its networks are wrong. Here are its two model
# classes verbatim (three long lines wrapped), with only `F` imported so that the next bugs can
# surface.

# %%
import torch.nn as nn
import torch.nn.functional as F


class Generator(nn.Module):  # as printed in the source
    def __init__(self, input_size, output_size):
        super(Generator, self).__init__()
        self.conv1 = nn.Conv2d(input_size, 64, kernel_size=3, stride=1,
                               padding=1)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = nn.Conv2d(64, 128, kernel_size=3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(128)
        self.conv3 = nn.Conv2d(128, 256, kernel_size=3, stride=2, padding=1)
        self.bn3 = nn.BatchNorm2d(256)
        self.conv4 = nn.Conv2d(256, output_size, kernel_size=3, stride=2,
                               padding=1)
        self.bn4 = nn.BatchNorm2d(output_size)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))
        x = F.relu(self.bn4(self.conv4(x)))
        x = F.tanh(x)
        return x


class Discriminator(nn.Module):  # as printed in the source
    def __init__(self, input_size):
        super(Discriminator, self).__init__()
        self.conv1 = nn.Conv2d(input_size, 64, kernel_size=3, stride=2,
                               padding=1)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = nn.Conv2d(64, 128, kernel_size=3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(128)
        self.conv3 = nn.Conv2d(128, 256, kernel_size=3, stride=2, padding=1)
        self.bn3 = nn.BatchNorm2d(256)
        self.conv4 = nn.Conv2d(256, 1, kernel_size=3, stride=1, padding=1)

    def forward(self, x):
        x = F.leaky_relu(self.bn1(self.conv1(x)), negative_slope=0.2)
        x = F.leaky_relu(self.bn2(self.conv2(x)), negative_slope=0.2)
        x = F.leaky_relu(self.bn3(self.conv3(x)), negative_slope=0.2)
        x = F.sigmoid(self.bn4(self.conv4(x)))
        return x


# %%
images = torch.rand(4, 3, 64, 64) * 2 - 1
out = Generator(3, 3)(images)
# NBVAL_CHECK_OUTPUT
print("source generator: input", tuple(images.shape),
      "(an image, not noise) -> output", tuple(out.shape),
      f"with values in [{out.min().item():.2f}, {out.max().item():.2f}] "
      "(ReLU before tanh: never negative)")
try:
    Discriminator(3)(images)
except AttributeError as error:
    print("source discriminator:", type(error).__name__, "-", error)

# %% [markdown]
# The corrected networks are the DCGAN pair of `ganret_lib.gan.models` {cite}`radford2016dcgan`:
# the generator maps *noise* to an image with transposed convolutions, the discriminator returns
# one logit per image, and the losses come from `ganret_lib.gan.losses`. One training step of
# each player on a batch of 64×64 colour images, as the listing intended, is
# `ganret_lib.gan.dcgan.dcgan_step` (chapter 3 shows it in full):

# %%
cfg_dcgan = models.DCGANConfig(nz=100, ngf=16, ndf=16, nc=3, image_size=64)
G_fix, D_fix = models.build_dcgan(cfg_dcgan, seed=seed)
opt_g = torch.optim.Adam(G_fix.parameters(), lr=2e-4, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D_fix.parameters(), lr=2e-4, betas=(0.5, 0.999))
noise = torch.randn(len(images), cfg_dcgan.nz)  # created before it is used
stats = dcgan.dcgan_step(G_fix, D_fix, opt_g, opt_d, images, noise)
with torch.no_grad():
    fake = G_fix(noise)
# NBVAL_CHECK_OUTPUT
print("corrected: noise", tuple(noise.shape), "-> images", tuple(fake.shape),
      "-> logits", tuple(D_fix(fake).shape), "; one D step and one G step ran")

# %%
def rounded(row):
    return {k: (round(v, 4) if isinstance(v, float) else v)
            for k, v in row.items()}


protocol = {"dataset": "synthetic (1-D and 2-D Gaussian mixtures)",
            "n_db": 0, "n_queries": 0}
record = runs.write_results(
    "02_gan_theory", profile, protocol, rows, seed=seed,
    wall_s=time.time() - started, config=config,
    checks={"dstar_error_1d": round(err_1d, 4),
            "dstar_error_2d": round(err_2d, 4),
            "c_g_vs_jsd_max_abs_diff": float(max(abs(c - j)
                                                 for _, _, c, j in checks)),
            "generator_grad_norm": norms,
            "weighted_sum": [rounded(r) for r in experiments]})
print("results record written:", runs.shown(record))

# %% [markdown]
# ## Summary
#
# - A GAN is the minimax game $\min_G \max_D V(D, G)$, trained by alternating stochastic
#   gradient steps; not one loss, not EM, and not "stop when D is fooled".
# - For a fixed $G$, $D^* = p_\mathrm{data} / (p_\mathrm{data} + p_g)$; trained discriminators
#   approach it (measured above in 1-D and 2-D).
# - With $D^*$, the game's value is $-\log 4 + 2\,\mathrm{JSD}(p_\mathrm{data} \,\|\, p_g)$, minimal
#   exactly at $p_g = p_\mathrm{data}$; quadrature and the closed form agree to numerical precision.
# - In practice $G$ minimises $-\log D(G(z))$: same fixed point, no vanishing gradient when $D$
#   rejects its samples.
#
# ## Exercises
#
# 1. Derive $D^*$ for the *non-saturating* game, where $D$ still maximises $V$. Is it different?
#
#    ```{admonition} Solution
#    :class: dropdown
#    It is the same. Only $G$'s objective changed; $D$ still maximises $V(D, G)$ pointwise,
#    $a \log y + b \log(1 - y)$ with $a = p_\mathrm{data}(x)$, $b = p_g(x)$, whose maximum is at
#    $y = a / (a + b)$. The non-saturating game is therefore no longer a zero-sum game: the two
#    players optimise different functions, with the same fixed point $p_g = p_\mathrm{data}$.
#    ```
#
# 2. Show that when $p_\mathrm{data}$ and $p_g$ have disjoint supports, $C(G) = 0$ whatever their
#    distance. What does that say about the gradient $G$ receives from an optimal $D$?
#
#    ```{admonition} Hint
#    :class: dropdown
#    What is $D^*$ on the support of $p_\mathrm{data}$, and on the support of $p_g$?
#    ```
#
#    ```{admonition} Solution
#    :class: dropdown
#    $D^* = 1$ where only the data has mass and $D^* = 0$ where only $p_g$ has mass, so
#    $C(G) = \mathbb E \log 1 + \mathbb E \log(1 - 0) = 0$; equivalently
#    $\mathrm{JSD} = \log 2$, its maximum. Moving $p_g$ closer (but still disjoint) leaves
#    $C(G)$ at 0, and $D^*$ is constant on a neighbourhood of every sample of $G$: the gradient
#    $G$ receives through $\log(1 - D^*(G(z)))$ is zero. An optimal discriminator tells a
#    generator with a disjoint support nothing about which way to move, whatever loss $G$ uses.
#    The practical answer is a smooth discriminator kept away from optimality, with the
#    non-saturating loss, whose gradient does not vanish when $D$ rejects the samples; the
#    principled one is a distance that grows with the gap, such as Wasserstein-1.
#    ```
#
# 3. Train the 2-D GAN with $k = 5$ discriminator steps per generator step
#    (`ToyGANConfig(k_disc=5)`). How do mode coverage and the saturating loss change?
#
#    ```{admonition} Hint
#    :class: dropdown
#    Copy the mode-coverage cell, add `k_disc=5` to the configuration, and compare the printed
#    modes covered and high-quality fractions for both generator losses, over the same seeds.
#    With $k = 5$, $D$ is closer to $D^*$ before each generator step: think about what that does
#    to the saturating loss's gradient (section "Why $G$ is trained with $-\log D(G(z))$").
#    ```
