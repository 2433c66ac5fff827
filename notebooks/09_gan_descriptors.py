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
# (ch-gan-descriptors)=
# # 9. Can a GAN learn a descriptor worth having?
#
# Chapter 4 found that ten epochs of the plainest GAN, a DCGAN, teach its discriminator features
# that beat raw pixels and an autoencoder of the same size by a few points (full profile), while
# the quick profile's shorter training does no better than the random initialisation; all of
# them are far below a supervised classifier.
# The source's central claim is that GANs learn high-level features that improve retrieval. This
# chapter tests the claim at its strongest, with discriminators designed to learn representations:
# one that also predicts how an image was turned (a self-supervised GAN) and one that also learns
# by contrast, two views of the same garment against all others (a contrastive discriminator). The
# decisive control is the same contrastive learning *without* an adversary (SimCLR): if it does as
# well, the adversary adds nothing.
#
# **You will learn**
# - what the NT-Xent loss of contrastive learning computes, and how two random views of an image
#   are made;
# - how a self-supervised or contrastive term is added to a discriminator's loss;
# - how to compare representation learners fairly: same architecture, same images, same number of
#   steps, every choice on validation queries, paired intervals on the test queries;
# - how much a k-NN-graph re-ranking (chapter 6's diffusion) adds to each descriptor.

# %% tags=["remove-cell"]
# On Colab: install the library at the commit this page was executed with
# (`make execute` pins it; the repository is set in _config.yml; the variable
# GANRET_INSTALL overrides the source, e.g. a fork's URL).
import importlib
import os
import sys

if "google.colab" in sys.modules:
    repository = "https://github.com/ganret/ganret"  # _config.yml
    commit = "17bdff2e21463629f2e37ff00bebb19eb762e2a9"  # of this run
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
import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from ganret_lib import viz, zoo
from ganret_lib.core import loop, runs
from ganret_lib.core.device import describe as describe_device
from ganret_lib.core.device import map_batches
from ganret_lib.data import images
from ganret_lib.methods import descriptors, representation
from ganret_lib.retrieval import diffusion, metrics, protocol

# %% tags=["hide-input"]
@dataclass
class Config:
    n_db: int | None  # database images (None: all 60,000 training images)
    n_queries: int | None  # query images (None: all 10,000 test images)
    n_val: int  # validation queries, from the training split
    layer_sets: tuple = ((2,), (0, 1, 2))  # activation layers tried (0-based)
    pca_dims: tuple = (32, 128)  # descriptor sizes tried on validation
    powers: tuple = (1.0, 0.5)  # power normalisations tried (1: none)
    whitenings: tuple = (0.0, 0.5, 1.0)  # whitening exponents tried (0: none)
    graph_k: int = 50  # neighbours per item in the diffusion graph


config = runs.profile_config(profile, {
    "smoke": Config(n_db=1000, n_queries=100, n_val=100, pca_dims=(16,),
                    graph_k=10),
    "quick": Config(n_db=10000, n_queries=1000, n_val=1000),
    "full": Config(n_db=None, n_queries=None, n_val=2000),
})
runs.seed_everything(seed)
print("networks run on", describe_device(device))
plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})
started = time.time()
config

# %% [markdown]
# ## Five ways to train the same body
#
# Every candidate is chapter 3's discriminator body $h(\cdot)$ (three strided convolutions, width
# as in chapter 3, batch 128), started from the same initial weights and trained on the same
# 60,000 training images for the same number of steps
# (`methods.representation`, `zoo.representation_network`):
#
# - **DCGAN**: chapter 3's adversary alone, $\min_D \; -\mathbb E\log D(x) - \mathbb
#   E\log(1 - D(G(z)))$ (the baseline every other kind adds one term to).
# - **SimCLR** {cite}`chen2020simclr`, no adversary: two random *views* $v, v'$ of each image (a
#   crop of 60 to 100 % of its side anywhere inside, resized back; a mirror with probability
#   1/2; contrast scaled by 0.6 to 1) pass through $h$ and a small projection head $g$, and the
#   NT-Xent loss (below) asks each view to pick its twin among the $2n - 1$ other views of the
#   batch.
# - **Contrastive discriminator** (after ContraD {cite}`jeong2021contrad`, simplified): D
#   minimises its GAN loss plus the same NT-Xent loss on two views of the real batch, through the
#   same body; G is chapter 3's. Is the adversary's signal a help or a distraction for the
#   contrastive one?
# - **Self-supervised GAN** (SS-GAN {cite}`chen2019ssgan`): each image is turned by $k \cdot
#   90°$, $k$ random; D minimises its GAN loss plus the cross-entropy of predicting $k$ on real
#   images (weight 1), and G its GAN loss plus that cross-entropy on its own images (weight 0.2).
# - **BiGAN** {cite}`donahue2017bigan`: an encoder $E$ (the same body, with a head to a code of
#   $G$'s latent size) is trained with $G$ against a discriminator of *pairs*, which tells
#   $(x, E(x))$ from $(G(z), z)$; $G$ and $E$ fool it together. At the optimum $E$ inverts $G$,
#   so the encoder must learn what tells garments apart; its body is the descriptor. It is the
#   GAN designed to give the encoder that chapter 4 had to train afterwards.
#
# With $u_i = g(h(v_i)) / \lVert g(h(v_i))\rVert$ over the $2n$ views of a batch of $n$ images
# and $i'$ the other view of the same image,
#
# $$
# \ell_{\text{NT-Xent}} = -\frac{1}{2n}\sum_{i=1}^{2n} \log
# \frac{\exp(u_i \cdot u_{i'} / \tau)}{\sum_{j \neq i} \exp(u_i \cdot u_j / \tau)},
# \qquad \tau = 0.5 .
# $$
#
# At initialisation it is about $\log(2n - 1) = 5.54$ for $n = 128$ (`representation.nt_xent`).
#
# Each network's descriptor is chapter 4's recipe: max-pooled activations of a set of layers,
# PCA fitted on the database, cosine similarity; the layers and the size are chosen on
# validation queries for every network separately. Two post-processing steps that retrieval
# practice adds are then tried on the same validation queries (`descriptors.postprocess`):
# *power normalisation*, each entry $x$ replaced by $\operatorname{sign}(x)\,|x|^{1/2}$, which
# damps the few large activations that otherwise dominate a cosine; and *whitening*, each
# principal component divided by its standard deviation $\sqrt{\lambda_i}$ to the power $w$
# ($w = 1$: full whitening, every direction weighted equally; $w = 1/2$: shrunk halfway; $w =
# 0$: plain PCA).

# %%
kinds = {"DCGAN": "dcgan", "SimCLR (no adversary)": "simclr",
         "contrastive D (GAN + SimCLR)": "contrastive",
         "self-supervised D (GAN + rotation)": "rotation",
         "BiGAN encoder": "bigan"}
trained, train_s = {}, {}
for name, kind in kinds.items():
    t0 = time.time()
    trained[name] = zoo.representation_network(kind, profile, seed,
                                                device=device)
    train_s[name] = time.time() - t0
steps = zoo.REPRESENTATION_STEPS[profile]
print(f"{steps} steps of 128 images each "
      f"({steps * 128 / 60000:.2f} epochs of 60,000 images)")

# %% [markdown]
# Their training curves (the terms each one logs) and, for the three GANs, what their
# generators draw at the end:

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 2.8))
for name, fit in trained.items():
    stats = loop.read_stats(fit.run_dir)
    x = [s["step"] for s in stats]
    if "nt_xent" in stats[0]:
        axes[0].plot(x, [s["nt_xent"] for s in stats], label=name)
    if "d_loss" in stats[0]:
        axes[1].plot(x, [s["d_loss"] for s in stats], label=name)
    if "rotation_ce" in stats[0]:
        axes[2].plot(x, [s["rotation_ce"] for s in stats], label=name)
titles = ["NT-Xent (contrastive)", "D's GAN loss", "rotation cross-entropy"]
for ax, title in zip(axes, titles):
    ax.set(title=title, xlabel="step")
    ax.legend(fontsize=6)
fig.tight_layout()
plt.show()

# %%
z = torch.randn(16, 100, generator=torch.Generator().manual_seed(seed))
gan_kinds = [n for n in trained if "G" in trained[n].modules]
fig, axes = plt.subplots(1, len(gan_kinds), figsize=(12, 1.6))
for ax, name in zip(axes, gan_kinds):
    G = trained[name].modules["G"].eval()
    fake = images.gan_to_stored(map_batches(G, z, 16, device), (28, 28))
    viz.image_grid(fake, ncols=8, ax=ax, title=name.removesuffix(" encoder"))
plt.show()

# %% [markdown]
# After under half an epoch (the quick profile) the generators draw only blurred garment
# outlines: these GANs are far from converged, and the comparison below is one of early
# training. The NT-Xent curves show the adversary slowing contrastive learning: with the GAN
# loss on the same body, the contrastive discriminator's NT-Xent stays above SimCLR's. BiGAN's
# pair critic has the most erratic loss of the four critics: telling $(x, E(x))$ from
# $(G(z), z)$ is easy while $E$ and $G$ are far from inverting each other.

# %% [markdown]
# ## The controls
#
# - the **random network**: the same body at its initial weights (identical for all four kinds),
#   batch-norm statistics recomputed on the database (chapter 4's stronger random control);
# - chapter 3's **DCGAN** discriminator as the zoo holds it (trained longer: 700 steps in the
#   quick profile, ten epochs in the full one) and chapter 4's **autoencoder** encoder (the same
#   architecture, reconstruction error, as many steps as that DCGAN);
# - **raw pixels**, and the supervised **classifier**'s features as the labelled reference.

# %%
split = protocol.load_split(config.n_db, config.n_queries, seed)
val = protocol.load_validation_split(config.n_db, config.n_val, seed)
for label, s in [("test", split), ("validation", val)]:
    print(f"{label}: {s.describe()}")
model_cfg = zoo.dcgan_configs(profile, seed)[0]
dcgan_zoo = zoo.dcgan(profile, seed, device=device, progress=False)
autoencoder = zoo.autoencoder(profile, seed, device=device, progress=False)
initial = representation.build(model_cfg, seed)[1].features


def random_bn(on):
    return descriptors.recompute_batchnorm(
        initial, images.to_gan(on.xb), device=device)


bodies = {name: representation.descriptor_body(fit)
          for name, fit in trained.items()}
bodies_val = dict(bodies)
bodies["random network, BN recomputed"] = random_bn(split)
bodies_val["random network, BN recomputed"] = random_bn(val)
dcgan_name = f"chapter 3's DCGAN ({dcgan_zoo.step} steps)"
bodies[dcgan_name] = bodies_val[dcgan_name] = dcgan_zoo.modules["D"].features
ae_name = f"chapter 4's autoencoder ({autoencoder.step} steps)"
bodies[ae_name] = bodies_val[ae_name] = autoencoder.modules["encoder"].features

# %% [markdown]
# ## Choosing each descriptor on validation queries
#
# For every network: the layer set (layer 3 alone, or layers 1 to 3) and the PCA size, by
# mAP@all on the validation queries (training images held out of a database of other training
# images). The test queries are not looked at.

# %%
chosen, validation_rows = {}, []
for name, stack in bodies_val.items():
    choice, rows_v = representation.choose_on_validation(
        stack, val, [list(s) for s in config.layer_sets], config.pca_dims,
        seed=seed, device=device, powers=config.powers,
        whitenings=config.whitenings)
    chosen[name] = choice
    validation_rows += [{"network": name} | r for r in rows_v]
for name, choice in chosen.items():
    plain_v = max(r["map_all"] for r in validation_rows
                  if r["network"] == name and r["power"] == 1.0
                  and r["whitening"] == 0.0)
    layers = "+".join(str(i + 1) for i in choice["layers"])
    print(f"{name:42s} layers {layers:6s} PCA-{choice['dim']:<4d} "
          f"validation mAP@all {plain_v:.3f}")

# %% [markdown]
# The post-processing sweep, at each network's chosen layers and size (validation mAP@all):

# %%
sweep = {}
for r in validation_rows:
    if r["layers"] == chosen[r["network"]]["layers"] and \
            r["pca_dim"] == chosen[r["network"]]["dim"]:
        sweep.setdefault(r["network"], {"network": r["network"]})[
            f"power {r['power']}, whitening {r['whitening']}"] = r["map_all"]
settings = [f"power {p}, whitening {w}"
            for p in config.powers for w in config.whitenings]
display(Markdown(viz.results_table(list(sweep.values()),
                                   columns=("network", *settings))))
for name, c in chosen.items():
    print(f"{name:42s} chosen: power {c['power']}, whitening {c['whitening']}")

# %% [markdown]
# ## The test queries, once
#
# Every row ranks the whole database for every test query, exactly (chapter 1), cosine
# similarity. Beside each label-free descriptor, the same descriptor re-ranked by diffusion on
# the database's k-NN graph (chapter 6: $k$ = 50, $\alpha$ = 0.99, the query's 10 nearest items
# start it), the best label-free re-ranking of chapter 6.

# %%
per_query, rows, vectors = {}, [], {}


def evaluate(method, fq, fb, label_free=True, **extra):
    rows.append(protocol.evaluate(method, fq, fb, split, metric="cosine",
                                  label_free=label_free, progress=False,
                                  per_query=per_query, **extra))


def evaluate_diffused(method, fq, fb):
    graph = diffusion.Diffusion(fb, diffusion.DiffusionConfig(
        k=config.graph_k, k_query=10, alpha=0.99, gamma=3.0))
    q = np.ascontiguousarray(fq, dtype=np.float32)
    rows.append(protocol.evaluate_keys(
        f"{method} + diffusion", lambda i: -graph.scores(q[i]), split,
        progress=False, per_query=per_query))


for name, stack in bodies.items():
    choice = chosen[name]
    pooled = descriptors.PooledLayers(stack, model_cfg, "max",
                                      layers=choice["layers"], device=device)
    raw_b, raw_q = pooled.transform(split.xb), pooled.transform(split.xq)
    layers = "+".join(str(i + 1) for i in choice["layers"])
    # PCA fitted on the database, without labels
    fitted = descriptors.PostProcess(choice["dim"], seed=seed).fit(raw_b)
    vectors[name] = (fitted.apply(raw_q), fitted.apply(raw_b))
    evaluate(name, *vectors[name], layers=layers, pca_dim=choice["dim"])
    settings = {"power": choice["power"], "whitening": choice["whitening"]}
    processed = f"{name} + post-processing"
    if settings == {"power": 1.0, "whitening": 0.0}:  # the same vectors
        rows.append(rows[-1] | {"method": processed} | settings)
        per_query[processed] = per_query[name]
        continue
    if settings["power"] != 1.0:
        fitted = descriptors.PostProcess(choice["dim"], settings["power"],
                                         seed=seed).fit(raw_b)
    evaluate(processed, fitted.apply(raw_q, settings["whitening"]),
             fitted.apply(raw_b, settings["whitening"]), layers=layers,
             pca_dim=choice["dim"], **settings)
vectors["raw pixels"] = (descriptors.raw_pixels(split.xq),
                         descriptors.raw_pixels(split.xb))
evaluate("raw pixels", *vectors["raw pixels"])
for name, (fq, fb) in vectors.items():
    evaluate_diffused(name, fq, fb)
classifier = zoo.classifier(profile, seed, device=device, progress=False)
features = descriptors.ClassifierFeatures(classifier.modules["classifier"],
                                          device=device)
evaluate("classifier features (labels)", features.transform(split.xq),
         features.transform(split.xb), label_free=False)

# %%
SUFFIXES = (" + diffusion", " + post-processing")
plain = [r for r in rows if not r["method"].endswith(SUFFIXES)]
extra = {s: {r["method"].removesuffix(s): r for r in rows
             if r["method"].endswith(s)} for s in SUFFIXES}
table = []
for r in plain:
    processed = extra[" + post-processing"].get(r["method"], {})
    table.append(r | {
        "map_all + diffusion": extra[" + diffusion"][r["method"]]["map_all"]
        if r["method"] in extra[" + diffusion"] else None,
        "map_all post-processed": processed.get("map_all"),
        "power, whitening": f"{processed['power']}, {processed['whitening']}"
        if processed else None})
display(Markdown(viz.results_table(table, columns=(
    "method", "label_free", "dim", "layers", "map_all",
    "map_all post-processed", "power, whitening", "map_all + diffusion",
    "map_1000", "p_at_10", "p_at_100"))))

# %%
for r in table:
    more = "".join(f"  {label} {r[key]:.3f}" for label, key in [
        ("post-processed", "map_all post-processed"),
        ("+ diffusion", "map_all + diffusion")] if r[key] is not None)
    print(f"{r['method'][:42]:42s} mAP@all {r['map_all']:.3f}{more}")

# %% [markdown]
# ## Which differences are real
#
# Differences of mAP@all over the same test queries with a paired bootstrap 95 % interval
# (10,000 resamples of the queries); an interval that contains 0 supports no conclusion. The
# questions, in order: does training beat the random network; does each extra term help the
# GAN; does the adversary help contrastive learning; is the best GAN-based descriptor ahead of
# SimCLR, of the autoencoder and of the untrained body?

# %%
gan_based = ["DCGAN", "contrastive D (GAN + SimCLR)",
             "self-supervised D (GAN + rotation)", "BiGAN encoder"]
best_gan = max(gan_based, key=lambda m: next(
    r["map_all"] for r in rows if r["method"] == m))
pairs = [("DCGAN", "random network, BN recomputed"),
         ("SimCLR (no adversary)", "random network, BN recomputed"),
         ("contrastive D (GAN + SimCLR)", "DCGAN"),
         ("self-supervised D (GAN + rotation)", "DCGAN"),
         ("BiGAN encoder", "DCGAN"),
         ("contrastive D (GAN + SimCLR)", "SimCLR (no adversary)"),
         (best_gan, "SimCLR (no adversary)"),
         (best_gan, ae_name),
         (best_gan, "random network, BN recomputed"),
         (best_gan, "raw pixels"),
         ("BiGAN encoder", "random network, BN recomputed"),
         ("BiGAN encoder", "raw pixels"),
         ("SimCLR (no adversary)", ae_name),
         (f"{best_gan} + post-processing", best_gan),
         ("SimCLR (no adversary) + post-processing", "SimCLR (no adversary)"),
         (f"{best_gan} + diffusion", best_gan)]
comparisons = [{"a": a, "b": b, **metrics.paired_bootstrap(
    per_query[a]["ap_all"], per_query[b]["ap_all"], seed=seed)}
    for a, b in dict.fromkeys(pairs)]
display(Markdown(viz.results_table(comparisons, columns=(
    "a", "b", "diff", "low", "high"))))

# %%
print("best GAN-based descriptor:", best_gan)
for c in comparisons:
    print(f"{c['a'][:36]:36s} - {c['b'][:36]:36s} {c['diff']:+.3f} "
          f"[{c['low']:+.3f}, {c['high']:+.3f}]")

# %%
record = runs.write_results(
    "09_gan_descriptors", profile,
    split.describe() | {"metric": "cosine", "validation": val.describe()},
    rows, seed=seed, wall_s=time.time() - started, config=config,
    steps=steps, train_s=train_s, chosen_on_validation={
        name: {"layers": "+".join(str(i + 1) for i in c["layers"]),
               "dim": c["dim"], "power": c["power"],
               "whitening": c["whitening"]} for name, c in chosen.items()},
    validation_study=validation_rows, best_gan_based=best_gan,
    comparisons=comparisons)
print("wrote", runs.shown(record))

# %% [markdown]
# ## Training noise: three seeds
#
# One training run per network is one draw. `make seeds` runs this chapter in the quick profile
# with seeds 1 and 2 (other initial weights, batches, views and subsets) and writes their
# records to `data/results/quick/seeds/`. The table gathers every seed of the quick profile that
# has a record.

# %% tags=["hide-input"]
seeds = runs.seed_records("09_gan_descriptors", "quick")
seed_rows = viz.seed_summary(
    seeds, [*kinds, "random network, BN recomputed", ae_name, "raw pixels"],
    differences=[("DCGAN", "random network, BN recomputed"),
                 ("contrastive D (GAN + SimCLR)", "DCGAN"),
                 ("self-supervised D (GAN + rotation)", "DCGAN"),
                 ("BiGAN encoder", "DCGAN"),
                 ("contrastive D (GAN + SimCLR)", "SimCLR (no adversary)"),
                 ("self-supervised D (GAN + rotation)",
                  "SimCLR (no adversary)"),
                 ("SimCLR (no adversary)", ae_name)])
display(Markdown(viz.results_table(seed_rows, columns=(
    "method", "seeds", "mean", "sd", *[f"seed {s}" for s in seeds]))))
if len(seeds) < 3:
    print(f"records for seeds {sorted(seeds)} only: `make seeds` adds others")

# %% [markdown]
# ## What the measurements say
#
# Read against the quick profile's numbers printed above: a class-balanced subset of 10,000
# database images and 1,000 test queries, 200 training steps per network (under half an
# epoch), one training run each; the seed table says how far another run moves them.
#
# **Early adversarial training costs the body something; each extra term wins it back and
# more.** After 200 steps the plain DCGAN's discriminator is below its own initial weights with
# recomputed batch-norm statistics, in every seed. Adding rotation prediction or the contrastive
# term to the same GAN lifts mAP@all by about two points over the plain DCGAN, intervals well
# clear of 0 and about the same in every seed (the three seeds within a point of each other).
#
# **BiGAN's encoder learns least.** After 200 steps its body is *below* the plain DCGAN's
# discriminator, its own initial weights (the random network) and raw pixels, each interval
# excluding 0 (the comparison table), and validation gave it the largest descriptor (PCA-128,
# whitening shrunk halfway), which does not lift it to any of them. The seed table repeats this in each of the three
# seeds, where it is below all three by one to ten points, and shows it as the least stable row (the
# largest standard deviation). Its encoder learns only through a critic that is itself just
# starting to relate images to codes, a weaker signal than a discriminator's own loss.
#
# **The adversary adds nothing to contrastive learning; it takes a little away.** The contrastive
# discriminator (GAN + NT-Xent on one body) is *below* SimCLR alone in this run, interval
# excluding 0, and in each of the three seeds; the self-supervised GAN is level with SimCLR in
# this run and below it in the two others. In this setting the source's claim, that adversarial
# training is what teaches high-level features, does not hold: what lifts a discriminator's
# features is the self-supervised term, and the contrastive term does better without a
# generator to fight.
#
# **No label-free descriptor here beats the autoencoder.** The best GAN-based descriptor and
# SimCLR are both level with chapter 4's autoencoder (which had 3.5 times the steps), all a few
# points above raw pixels and about thirty below the supervised classifier.
#
# **Post-processing does not help these descriptors.** On the validation queries (the sweep
# table) full whitening costs every network ten to thirteen points of mAP@all (BiGAN's encoder
# seventeen), whitening shrunk halfway costs up to three points, and power normalisation up to one;
# validation kept plain PCA for seven of the eight networks, and the eighth (BiGAN's encoder,
# half whitening) gains 0.002 on the test queries. This is the whitening collapse: the leading
# principal components of these descriptors carry the differences between classes, and full
# whitening gives the trailing ones, mostly variation within a class, the same weight in the
# cosine. Whitening pays in retrieval practice when it is learnt from matching pairs, or when
# a few bursty directions dominate a descriptor; neither is the case here.
#
# **Re-ranking matters more than the descriptor.** Diffusion on the database's k-NN graph adds
# eight (raw pixels) to ten points of mAP@all to every descriptor, more than any difference
# between them.
#
# **What one run supports.** Differences between the five kinds and their controls are of one to
# three points, and a seed moves a single row by one to two points as well (the standard
# deviations above; four for BiGAN's encoder): the paired intervals say that a difference is real for this run's
# networks, the seed table whether it survives another run. The conclusions above hold in all
# three seeds. They are quick-profile conclusions: in chapter 4, ten epochs turned a
# discriminator that was level with its random initialisation (quick) into one ahead of the
# autoencoder (full), so longer training may reorder these rows too.
#
# **How far this goes.** A GAN-based descriptor worth having would reach mAP@all 0.62 on the
# full protocol before re-ranking, with an interval above the autoencoder's. In the quick
# profile the best one is far from that and level with both the autoencoder and SimCLR; whether
# ten epochs on all 60,000 images change the ordering is the full profile's question, and it has
# not been run yet. It trains each of the five networks as long as chapter 3's full DCGAN, and
# the contrastive, rotation and BiGAN networks take up to about twice as long per
# step (the quick profile's training times): a working day or more on 2 CPU cores, minutes on
# a GPU. Its networks resume from their checkpoints, so the run can be spread over sessions.

# %% tags=["hide-input"]
full = runs.read_results("09_gan_descriptors", "full", missing_ok=True)
if full:
    display(Markdown("Full profile (60,000 database images, 10,000 "
                     "queries):\n\n"
                     + viz.results_table(full["rows"]) + "\n\n"
                     + viz.results_table(full["comparisons"], columns=(
                         "a", "b", "diff", "low", "high"))))
else:
    display(Markdown("*No full-profile record yet: run the chapter with "
                     "`profile=\"full\"`.*"))

# %% [markdown]
# ## Summary
#
# - Five label-free ways to train one body, at equal steps: the adversary alone (DCGAN),
#   contrast alone (SimCLR), the adversary with a contrastive or a rotation term, and BiGAN's
#   encoder, trained with the generator against a critic of image-code pairs.
# - Every descriptor is chosen on validation queries and reported once on the test queries,
#   with diffusion re-ranking beside it and paired intervals for every conclusion.
# - In the quick profile the self-supervised terms lift the discriminator's features, but SimCLR
#   without an adversary does as well (the contrastive discriminator slightly worse), BiGAN's
#   encoder is the weakest of all, and none of them beats the autoencoder; whitening and power
#   normalisation do not help, and diffusion adds more than any choice of descriptor.
#
# ## Exercises
#
# 1. Train the contrastive discriminator with the GAN loss kept off its body (the GAN head on
#    detached features, as ContraD does). Does the descriptor improve?
#
#    ```{admonition} Hint
#    :class: dropdown
#    In `representation.gan_step`, compute D's GAN logits from `D.head(maps.detach())` for the
#    real and generated batches; the body then learns from NT-Xent alone, while G still gets a
#    gradient through the whole D.
#    ```
#
# 2. Stronger views: add random erasing or a wider range of crops. Which way does the SimCLR row
#    move, and does the contrastive discriminator follow it?
#
#    ```{admonition} Hint
#    :class: dropdown
#    `RepresentationConfig(min_crop=0.3)` widens the crops; the run folder changes with the
#    configuration, so every network retrains. Choose on validation queries as above.
#    ```
#
# 3. The projection head is thrown away. Use its output $g(h(x))$ as the descriptor instead of
#    the pooled layers: is it better or worse for retrieval, and why might it be?
#
#    ```{admonition} Hint
#    :class: dropdown
#    `D.projector(D.embed(x)[1])` for batches of `images.to_gan(split.xb)`. SimCLR's paper found
#    the layer before the head better for downstream tasks: the head learns to ignore what the
#    views change (crop, mirror, contrast), which a retrieval descriptor may need.
#    ```
