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
# (ch-dcgan)=
# # 3. DCGAN step by step on Fashion-MNIST
#
# The deep convolutional GAN (DCGAN) of {cite}`radford2016dcgan` is the architecture the source
# article's code listing was aiming at, and the GAN whose discriminator later chapters use as a
# feature extractor for retrieval. This chapter builds it layer by layer, trains it on
# Fashion-MNIST with a trainer that logs, checkpoints and resumes exactly, and measures what it
# learned: sample grids, latent interpolations, a memorisation check and a Fréchet distance in
# the feature space of a classifier trained here.
#
# **You will learn**
# - the DCGAN architecture, its canonical hyper-parameters and why each was chosen;
# - how to train a GAN reproducibly: fixed-noise samples, logged statistics, atomic checkpoints, resume;
# - how to check that a generator does not just copy its training images;
# - how to measure sample quality without downloadable weights, and how far to trust the number.

# %% tags=["remove-cell"]
# On Colab: install the library at the commit this page was executed with
# (`make execute` pins it; the repository is set in _config.yml; the variable
# GANRET_INSTALL overrides the source, e.g. a fork's URL).
import importlib
import os
import sys

if "google.colab" in sys.modules:
    repository = "https://github.com/ganret/ganret"  # _config.yml
    commit = "a431681b7cc67db26b3fd36280cd4bc5baefa9c9"  # of this run
    source = os.environ.get("GANRET_INSTALL", f"git+{repository}@{commit}")
    # %pip install -q "ganret_lib @ {source}"
    importlib.invalidate_caches()  # so that this kernel imports the new install
    print(f"installed ganret_lib from {source}")

# %% tags=["parameters"]
# "smoke" (seconds), "quick" (the default, CPU minutes) or "full" (headline)
profile = "quick"
seed = 0
device = "auto"  # "auto" (CUDA when available), "cuda" or "cpu"

# %%
import inspect
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Code, Image, Markdown, display

from ganret_lib import viz, zoo
from ganret_lib.core import loop, runs
from ganret_lib.core.device import describe as describe_device
from ganret_lib.core.device import map_batches
from ganret_lib.data import fashion_mnist, images
from ganret_lib.gan import dcgan, models, quality
from ganret_lib.retrieval import index

# %% tags=["hide-input"]
# The DCGAN and classifier settings of each profile live in ganret_lib.zoo,
# because chapters 4 and 5 load the same trained models; this chapter adds
# its own evaluation sizes (images per quality measurement).
settings = runs.profile_config(profile, zoo.DCGAN)
n_eval = runs.profile_config(profile,
                             {"smoke": 256, "quick": 5000, "full": 10000})
n_check = min(2000, n_eval)  # generated images in the copy check
model_cfg, gan_cfg, fit_cfg = zoo.dcgan_configs(profile, seed)
runs.seed_everything(seed)
print("networks run on", describe_device(device))
plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})
started = time.time()


def generate(G, z):
    """G's images of the noise z, computed on `device`, returned on the CPU."""
    return map_batches(G.eval(), z, len(z), device)


settings

# %% [markdown]
# ## The architecture, layer by layer
#
# Fashion-MNIST images are 28×28; we pad them with two background pixels on each side to 32×32,
# a power of two, so that every stride-2 layer halves or doubles the side exactly, and scale them
# to $[-1, 1]$ to match the generator's tanh output.
#
# The DCGAN rules {cite}`radford2016dcgan`, each with its reason:
# - **no pooling, no fully connected hidden layers**: the generator upsamples with stride-2
#   transposed convolutions and the discriminator downsamples with stride-2 convolutions, so both
#   learn their own resampling;
# - **batch normalisation** in both networks, except at the generator's output and the
#   discriminator's input, where it made samples oscillate and training unstable;
# - **ReLU in the generator, tanh at its output; LeakyReLU(0.2) in the discriminator**, which keeps
#   gradients flowing to the generator for samples the discriminator rejects;
# - **Adam with learning rate 0.0002 and $\beta_1 = 0.5$**: the defaults (0.001, 0.9) oscillated;
# - **weights drawn from $\mathcal N(0, 0.02^2)$** (standard deviation 0.02), batch 128.
#
# The discriminator here ends in a logit, not a sigmoid: the losses of chapter 2 apply the
# sigmoid in a numerically stable way. The two networks, as the library defines them (printed
# from `ganret_lib.gan.models`, so that the page and the code cannot drift apart):

# %% tags=["remove-input"]
display(Code(inspect.getsource(models.Generator), language="python"))
display(Code(inspect.getsource(models.Discriminator), language="python"))

# %% [markdown]
# Follow a batch of 2 through each network:

# %%
G, D = models.build_dcgan(model_cfg, seed=seed)


def trace(layers, x):
    for layer in layers:
        x = layer(x)
        quiet = (torch.nn.BatchNorm2d, torch.nn.ReLU, torch.nn.LeakyReLU)
        if not isinstance(layer, quiet):  # these keep the shape
            print(f"  {type(layer).__name__:16s} -> {tuple(x.shape[1:])}")
    return x


# %%
print("generator: z", (model_cfg.nz, 1, 1))
image = trace(G.net, torch.randn(2, model_cfg.nz, 1, 1))
print("discriminator: image", tuple(image.shape[1:]))
trace([*D.features, D.head], image)
print(f"parameters: G {models.n_parameters(G):,}, "
      f"D {models.n_parameters(D):,}")

# %% [markdown]
# ## Training
#
# One training step is Algorithm 1 of {cite}`goodfellow2014gan` with one discriminator step per
# generator step, each with the losses of chapter 2. This is the whole of it:

# %% tags=["remove-input"]
display(Code(inspect.getsource(dcgan.dcgan_step), language="python"))

# %% [markdown]
# Everything around the step is the library's one training loop, `core.loop.Fitter`, shared by
# every network of the book: it draws each step's batch and noise from a generator seeded by
# (seed, step), writes `config.json` first, statistics every 25 steps (`stats.jsonl`) and
# atomic checkpoints, and resumes exactly; the test suite checks that a run interrupted halfway
# and resumed ends with the same weights. Callbacks add what is specific to a GAN: the
# throughput in each log line, and the samples of 64 fixed noise vectors (`samples.npz`).
# `zoo.dcgan` returns the DCGAN of this profile from its run directory under `runs/` if it was
# trained before, otherwise it trains it.

# %%
test_stored, test_labels = fashion_mnist.load_fashion_mnist("test")
x_train = zoo.dcgan_training_images(profile, seed)
gan = zoo.dcgan(profile, seed, device=device)
G = gan.modules["G"]
stats = loop.read_stats(gan.run_dir)
epochs = gan.step * fit_cfg.batch_size / len(x_train)
throughput = np.median([s["images_per_s"] for s in stats])
print(f"trained {gan.step} steps ({epochs:.2f} epochs); "
      f"median throughput {throughput:.0f} images/s")

# %%
snapshots = dcgan.read_samples(gan.run_dir)
shown = sorted(snapshots)[-3:]  # the last three snapshots, large enough to see
fig, axes = plt.subplots(1, len(shown), figsize=(3.2 * len(shown), 3.4))
for ax, step in zip(np.atleast_1d(axes), shown):
    batch = torch.from_numpy(snapshots[step][:36])
    viz.image_grid(images.for_display(batch), ncols=6, ax=ax,
                   title=f"step {step}")
fig.suptitle("The same 36 noise vectors over training", fontsize=9)
plt.show()

# %% [markdown]
# After 1.5 epochs the quick profile's samples are rough. The full profile's DCGAN (width 64, ten
# epochs) draws these from the same 36 noise vectors; the picture is a small PNG committed beside
# its results record, written by the full run:

# %% tags=["hide-input"]
full_png = runs.results_path("03_dcgan", "full").with_name("03_samples.png")
if profile == "full":
    final = torch.from_numpy(snapshots[max(snapshots)][:36])
    viz.save_grid_png(images.for_display(final, (28, 28)), full_png, ncols=6,
                      zoom=3)
if full_png.is_file():
    display(Image(filename=str(full_png)))
else:
    print(f"no {full_png.name} yet: the full profile writes it")

# %%
steps = [s["step"] for s in stats]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 2.8))
ax1.plot(steps, [s["d_loss"] for s in stats], label="discriminator loss")
ax1.plot(steps, [s["g_loss"] for s in stats], label="generator loss")
ax1.set(xlabel="step", title="Losses (mean over 25 steps)")
ax2.plot(steps, [s["d_real"] for s in stats], label="mean D(x)")
ax2.plot(steps, [s["d_fake"] for s in stats], label="mean D(G(z))")
ax2.axhline(0.5, color="0.5", lw=0.8, ls="--")
ax2.set(xlabel="step", title="Discriminator outputs")
for ax in (ax1, ax2):
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# The losses do not go to zero and are not a progress measure: each player's loss depends on the
# other. What matters is that neither collapses (a discriminator loss near 0 with $D(G(z)) \to 0$
# means the generator has lost the game) and that the samples improve.
#
# ## Four DCGAN pitfalls
#
# **Real and fake batches go through D separately.** `dcgan_step` calls `D(real)` and
# `D(fake)` as two batches. In training mode batch norm normalises with the statistics of the
# batch it is given, so a batch that mixes real and fake images gives every image a verdict that
# depends on the others in its batch. The same fake images, judged alone and inside a mixed batch:

# %%
on = next(G.parameters()).device  # where the trained networks live
with torch.no_grad():
    z_demo = torch.randn(16, model_cfg.nz,
                         generator=torch.Generator().manual_seed(3)).to(on)
    fake_demo = G.eval()(z_demo)
    real_demo = images.to_gan(test_stored[:16]).to(on)
    D = gan.modules["D"].train()
    alone = D(fake_demo)
    mixed = D(torch.cat([real_demo, fake_demo]))[16:]
    D.eval()
print(f"largest change of a fake image's logit when real images share its "
      f"batch: {(alone - mixed).abs().max():.2f}")

# %% [markdown]
# **Sample in eval mode.** In training mode the generator's batch norm also uses the statistics of
# the batch being generated, so an image depends on the other noise vectors drawn with it.
# `generate` (above) puts G in eval mode, where batch norm uses the running statistics and each
# image depends on its own $z$ only:

# %%
with torch.no_grad():
    one = z_demo[:1]
    for mode in ("train", "eval"):
        G.train(mode == "train")
        shift = (G(one) - G(z_demo)[:1]).abs().max().item()
        print(f"{mode} mode: the first image alone vs in a batch of 16 "
              f"differs by up to {shift:.3f} (pixels in [-1, 1])")
    G.eval()

# %% [markdown]
# **Checkerboard artefacts.** A transposed convolution whose kernel size is not a multiple of its
# stride overlaps itself unevenly: some output pixels receive more kernel taps than their
# neighbours, which prints a grid pattern on the image {cite}`odena2016deconvolution`. DCGAN's
# 4×4 kernels with stride 2 overlap evenly. The number of taps per output pixel, for a constant
# input and a kernel of ones:

# %%
for k in (3, 4):
    up = torch.nn.ConvTranspose2d(1, 1, k, stride=2, padding=1, bias=False)
    torch.nn.init.ones_(up.weight)
    with torch.no_grad():
        taps = up(torch.ones(1, 1, 4, 4))[0, 0, 2:6, 2:6]
    print(f"kernel {k}, stride 2: taps in a 4x4 patch of the output")
    print(taps.int().numpy())

# %% [markdown]
# Even overlap does not rule out artefacts (learned kernels can still be uneven), but it removes
# the built-in pattern. Resizing followed by a convolution is the other common fix.
#
# **A discriminator that wins outright.** If D separates real from generated images perfectly,
# $D(G(z)) \to 0$ and the minimax generator loss $\log(1 - D(G(z)))$ has a vanishing gradient
# (chapter 2 measured it); the non-saturating loss used here keeps a gradient, but a D that is
# far ahead still gives G little useful signal. Watch the right-hand curve above: mean
# $D(G(z))$ stuck near 0 while $D(x)$ is near 1 is the symptom. The usual remedies are the ones
# DCGAN already takes (equal learning rates, one D step per G step, batch norm), and otherwise a
# smaller or regularised D.
#
# ## Walking the latent space
#
# Linear interpolation between pairs of noise vectors: a generator that has learned a smooth
# mapping changes the garment gradually, rather than jumping between memorised images.

# %%
g = torch.Generator().manual_seed(seed + 7)
ends = torch.randn(2, 6, model_cfg.nz, generator=g)  # 6 pairs of end points
z_check = torch.randn(n_check, model_cfg.nz, generator=g)  # for the copy check
t = torch.linspace(0, 1, 10)[:, None, None]
path = ((1 - t) * ends[0] + t * ends[1]).transpose(0, 1)
frames = generate(G, path.reshape(-1, model_cfg.nz))
fig, ax = plt.subplots(figsize=(7, 4.4))
viz.image_grid(images.for_display(frames), ncols=10, ax=ax,
               title="Each row: 10 steps from one noise vector to another")
plt.show()

# %% [markdown]
# ## Does the generator copy its training images?
#
# For generated images, find the nearest training image in pixel space (exact search with faiss)
# and compare the distance with the same statistic for *test* images, which the generator never
# saw: if generated images were much closer to the training set than test images are, the
# generator would be memorising.

# %%
def flat(x):
    return x.reshape(len(x), -1).numpy()


generated = generate(G, z_check)
test_x = images.to_gan(test_stored)
nn_index = index.Index.build(flat(x_train))
d_gen, i_gen = nn_index.search(flat(generated), 1, progress=False)
d_test, _ = nn_index.search(flat(test_x[:n_check]), 1, progress=False)
d_gen, d_test = np.sqrt(d_gen[:, 0]), np.sqrt(d_test[:, 0])
close = np.percentile(d_test, 1)  # 1 % of unseen images are this close
memorisation = {"median_generated": float(np.median(d_gen)),
                "median_test": float(np.median(d_test)),
                "test_1st_percentile": float(close),
                "share_generated_below": float((d_gen < close).mean())}
print(f"median distance to the nearest training image: "
      f"generated {np.median(d_gen):.1f}, test images {np.median(d_test):.1f} "
      "(pixels in [-1, 1], 32x32)")
print(f"generated images closer to a training image than 99 % of test images "
      f"are: {memorisation['share_generated_below']:.1%} (1 % for images "
      "distributed like the test images)")

# %% [markdown]
# Medians can hide a few copies, so the second line looks at the lower tail: the distance below
# which only 1 % of test images fall, and the share of generated images below it. A generator
# that copied a few training images outright would put far more than 1 % there.

# %%
pairs = torch.stack([generated[:8], x_train[i_gen[:8, 0]]], 1).flatten(0, 1)
fig, ax = plt.subplots(figsize=(8, 1.2))
viz.image_grid(images.for_display(pairs), ncols=16, ax=ax,
               title="Generated image, then its nearest training image")
plt.show()

# %% [markdown]
# ## Measuring sample quality offline
#
# The usual measure, FID, is the Fréchet distance between Gaussians fitted to Inception-v3
# features of real and generated images {cite}`heusel2017fid`. Inception weights cannot be downloaded on the machines
# this book is built on, so we train a small Fashion-MNIST classifier here and use its
# 128-dimensional penultimate layer:
#
# $$
# \mathrm{FD} = \lVert \mu_r - \mu_g \rVert^2 + \operatorname{Tr}\big(\Sigma_r + \Sigma_g - 2 (\Sigma_r \Sigma_g)^{1/2}\big).
# $$
#
# We call it **FD-FMNIST**. It is not comparable with published FID values, only with other
# FD-FMNIST values computed by the same network. To read it we need a scale: the **floor** is the
# distance between two disjoint halves of the real test set (what a perfect generator would get,
# given sampling noise), and an **untrained generator** is a reference at the other end (FD has
# no upper bound, so it is a reference, not a ceiling). We also report k-NN precision (how many
# generated images fall inside the real data's manifold) and recall (how much of the real
# manifold the generated images cover) {cite}`kynkaanniemi2019precision`, with k = 3, and
# density and coverage {cite}`naeem2020reliable`, with k = 5, which repair a known failure of
# precision and recall (below).

# %%
classifier_fit = zoo.classifier(profile, seed, device=device)
classifier = classifier_fit.modules["classifier"]

# %%
n = min(n_eval, len(test_x) // 2)
perm = np.random.default_rng(seed).permutation(len(test_x))
real_a = quality.features(classifier, test_x[perm[:n]], device=device)
real_b = quality.features(classifier, test_x[perm[n:2 * n]], device=device)
untrained, _ = models.build_dcgan(model_cfg, seed=seed + 1)
z_eval = torch.randn(n, model_cfg.nz,
                     generator=torch.Generator().manual_seed(seed + 11))
fake = {"trained DCGAN": generate(G, z_eval),
        "untrained generator (reference)": generate(untrained, z_eval)}


def quality_row(method, real, other):
    return {"method": method, "label_free": True,
            "fd_fmnist": quality.frechet_distance(real, other),
            **quality.precision_recall(real, other),
            **quality.density_coverage(real, other)}


# %%
rows = [quality_row("real test half vs half (floor)", real_a, real_b)]
for name, x in fake.items():
    rows.append(quality_row(name, real_a,
                            quality.features(classifier, x, device=device)))
columns = ("method", "fd_fmnist", "precision", "recall", "density",
           "coverage")
display(Markdown(viz.results_table(rows, columns=columns, digits=3)))

# %%
test_accuracy = quality.accuracy(classifier, test_x, torch.tensor(test_labels),
                                 device=device)
print(f"feature network: test accuracy {test_accuracy:.3f}")
for r in rows:
    print(f"{r['method']:32s} FD-FMNIST {r['fd_fmnist']:8.2f}  "
          f"precision {r['precision']:.2f}  recall {r['recall']:.2f}  "
          f"density {r['density']:.2f}  coverage {r['coverage']:.2f}")

# %% [markdown]
# How to read the last columns. Precision asks whether each generated image falls inside *some*
# real image's k-NN ball, and a few real images far from the rest (unusual garments) have very
# large balls. An untrained generator produces nearly the same grey blob for every $z$; if that
# blob lands in an outlier's ball, every generated image counts as "realistic" and precision
# reaches 1 while recall is 0, which is what the full profile's table (at the end of the
# chapter) shows. Density counts *how many* real balls hold each generated image, divided by
# $k$: about 1 for a generator that matches the data, and only $m/k$ for samples that sit in the
# balls of $m$ outliers. Coverage counts the share of real images whose ball holds at least one
# generated image: a measure of diversity that, unlike recall, does not trust the generated
# images' own neighbourhoods.

# %%
protocol = {"dataset": "Fashion-MNIST", "n_train": len(x_train), "n_eval": n,
            "n_db": 0, "n_queries": 0,
            "measure": "FD-FMNIST (not Inception FID)"}
training = {"steps": gan.step, "run_dir": gan.run_dir.name,
            "train_s": round(gan.train_seconds, 1),
            "classifier_train_s": round(classifier_fit.train_seconds, 1),
            "classifier_test_accuracy": round(test_accuracy, 4),
            "median_images_per_s": round(float(throughput), 1)}
config = {**vars(settings), "n_eval": n_eval,
          "classifier_epochs": zoo.CLASSIFIER_EPOCHS[profile]}
record = runs.write_results(
    "03_dcgan", profile, protocol,
    rows,
    seed=seed, wall_s=time.time() - started, config=config,
    model=vars(model_cfg), training=training,
    memorisation={k: round(v, 4) for k, v in memorisation.items()})
print("results record written:", runs.shown(record))

# %% [markdown]
# ## The full profile
#
# The same measurements for the full profile's DCGAN (width 64, ten epochs, all 60,000 training
# images; 10,000 generated and real images per measurement), read from its committed record:

# %% tags=["hide-input"]
display(Markdown(viz.record_table("03_dcgan")))
full_record = runs.read_results("03_dcgan", "full", missing_ok=True)
memo = full_record.get("memorisation")
if memo:
    print(f"median distance to the nearest training image: generated "
          f"{memo['median_generated']:.1f}, test {memo['median_test']:.1f}; "
          f"generated images below the test images' 1st percentile: "
          f"{memo['share_generated_below']:.1%}")

# %% [markdown]
# ## Summary
#
# - DCGAN: transposed convolutions up, strided convolutions down, batch norm, ReLU/LeakyReLU,
#   tanh output, Adam(0.0002, β₁ = 0.5), weights from N(0, 0.02²).
# - `ganret_lib.gan.dcgan` trains it with the library's one loop, reproducibly: statistics and
#   fixed-noise samples as it runs, atomic checkpoints, exact resume, a clear stop on a
#   non-finite loss.
# - Generated images are no closer to the training set than unseen test images are, in the
#   median and in the lower tail: the generator is not copying.
# - Quality is measured with FD-FMNIST, between the floor of real-vs-real and the reference of
#   an untrained generator; it is comparable only with itself. Density and coverage complete
#   k-NN precision and recall, which an untrained generator can fool.
#
# ## Exercises
#
# 1. Train with $\beta_1 = 0.9$ (`dcgan.GANConfig(beta1=0.9)`). What happens to the D(x) and D(G(z)) curves?
#
#    ```{admonition} Hint
#    :class: dropdown
#    With `model_cfg, _, fit_cfg = zoo.dcgan_configs(profile, seed)`, the call
#    `dcgan.dcgan_fitter("dcgan-beta09", model_cfg, dcgan.GANConfig(beta1=0.9), fit_cfg, x_train)`
#    trains it in its own run directory. Plot `loop.read_stats(fitter.run_dir)` as above and
#    compare the swings of mean D(x) and D(G(z)), and the samples.
#    ```
#
# 2. Remove batch normalisation from the discriminator. Does training still converge at this size?
#
#    ```{admonition} Hint
#    :class: dropdown
#    Build the networks with `models.build_dcgan`, replace each `BatchNorm2d` in `D.features` by
#    `torch.nn.Identity()`, and train with `core.loop.fit_or_load` and `dcgan.dcgan_step`, as
#    `dcgan.dcgan_fitter` does. Compare FD-FMNIST and the curves of D's outputs.
#    ```
#
# 3. The floor of FD-FMNIST is not zero. Why? How does it change with the number of images?
#
#    ```{admonition} Solution
#    :class: dropdown
#    The two halves are finite samples of the same distribution: their means and covariances
#    differ by sampling error, and FD squares those differences, so its estimate is biased
#    upwards. The bias shrinks roughly as $1/n$ with $n$ images per half (the covariance
#    estimates' errors are of order $1/\sqrt n$ and enter squared). Compute the floor for
#    $n$ = 1000, 2000 and 5000 to see it; compare generators only at the same $n$.
#    ```
