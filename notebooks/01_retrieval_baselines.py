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
# (ch-baselines)=
# # 1. Image retrieval and its baselines
#
# Before any GAN enters the book we fix *how retrieval is measured*, and we measure the
# simplest descriptors that a GAN-based method has to beat: raw pixels and PCA.
# Every later chapter reuses the protocol, the metrics and the exact ranking defined here.
#
# **You will learn**
# - the book's retrieval protocol on Fashion-MNIST and why each choice is made;
# - the exact definitions of mAP@all, mAP@k, precision@k, recall@k and the precision–recall curve,
#   including the AP divisor and how ties are broken;
# - how to search with faiss, and why a self-query sanity check matters;
# - how strong raw pixels and PCA already are.

# %% tags=["remove-cell"]
# On Colab: install the library at the commit this page was executed with
# (`make execute` pins it; the repository is set in _config.yml; the variable
# GANRET_INSTALL overrides the source, e.g. a fork's URL).
import importlib
import os
import sys

if "google.colab" in sys.modules:
    repository = "https://github.com/ganret/ganret"  # _config.yml
    commit = "33a304dc8c7457d722345c6461a988efcae95bf4"  # of this run
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
from IPython.display import Markdown, display

from ganret_lib import viz
from ganret_lib.core import cache, runs
from ganret_lib.data import fashion_mnist
from ganret_lib.methods.descriptors import pca, raw_pixels
from ganret_lib.retrieval import index, metrics, protocol

# %% tags=["hide-input"]
@dataclass
class Config:
    n_db: int | None  # database images (None: all 60,000 training images)
    n_queries: int | None  # query images (None: all 10,000 test images)
    pca_dims: tuple = (16, 32, 64, 128)  # PCA sizes compared in the sweep
    table_pca_dim: int = 64  # the PCA size reported in the table


config = runs.profile_config(profile, {
    "smoke": Config(n_db=2000, n_queries=200, pca_dims=(16, 64)),
    "quick": Config(n_db=20000, n_queries=2000),
    "full": Config(n_db=None, n_queries=None),
})
runs.seed_everything(seed)
plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})
started = time.time()
config

# %% [markdown]
# ## The protocol
#
# - **Data.** Fashion-MNIST {cite}`xiao2017fashion`: 28×28 grayscale images of clothing in 10
#   classes, 60,000 for training and 10,000 for testing.
# - **Database** = the training images; **queries** = the test images; an item is **relevant** to a
#   query when it has the query's class. Queries and database do not overlap here, so no query can
#   retrieve itself; where they do overlap (later chapters), the query's own item is removed *by id*.
# - **Profiles.** The full profile uses all 60,000 × 10,000 images. The quick profile takes a
#   class-balanced subset chosen by the seed, 20,000 database images and 2,000 queries, and every
#   number from it is labelled as such. The book's results chapter shows both.

# %%
split = protocol.load_split(config.n_db, config.n_queries, seed)
print(split.describe())
print("images per class in the database:", np.bincount(split.yb).tolist())

# %%
fig, ax = plt.subplots(figsize=(8, 1.2))
first_of_class = [int(np.flatnonzero(split.yb == c)[0]) for c in range(10)]
title = "  ·  ".join(fashion_mnist.CLASS_NAMES)
viz.image_grid(split.xb[first_of_class], ncols=10, ax=ax, title=title)
plt.show()

# %% [markdown]
# ## The metrics, exactly
#
# For one query, rank the whole database by distance (smallest first). Let $R$ be the number of
# relevant database items and $r_1 < r_2 < \dots < r_R$ the ranks at which they appear.
#
# $$
# \mathrm{P@}k = \frac{|\{i : r_i \le k\}|}{k}, \qquad
# \mathrm{R@}k = \frac{|\{i : r_i \le k\}|}{R}, \qquad
# \mathrm{AP} = \frac{1}{R}\sum_{i=1}^{R} \frac{i}{r_i}.
# $$
#
# $i / r_i$ is the precision at the rank of the $i$-th relevant item, so AP averages precision over
# the positions of *all* relevant items: the divisor is $R$, the number of relevant items in the
# database, not the number retrieved. **mAP@all** is the mean of AP over queries.
# **mAP@k** truncates the list after $k$ results,
# $\mathrm{AP@}k = \frac{1}{\min(R, k)} \sum_{i : r_i \le k} i / r_i$, so a perfect top-$k$ scores 1.
# The **precision–recall curve** averages, over queries, the interpolated precision
# $p(t) = \max_{i : i/R \ge t} i / r_i$ at recall levels $t = 0, 0.05, \dots, 1$.
#
# **Ties.** When a relevant and a non-relevant item are at exactly the same distance, the
# non-relevant one is ranked first. The rule is pessimistic (it never flatters a method) and does
# not depend on the order of the database. A query with no relevant item would have no AP; it is
# counted and reported, never silently dropped (Fashion-MNIST has none).
#
# A worked example: the list *relevant, non-relevant, relevant, non-relevant, non-relevant*, with a
# third relevant item never retrieved ($R = 3$).

# %%
ranks = metrics.ranks_from_relevance(np.array([[1, 0, 1, 0, 0]]))
R = np.array([3])
# NBVAL_CHECK_OUTPUT
print("ranks of the relevant items:", ranks[0, :2].tolist(),
      "and one never retrieved")
ap = metrics.average_precision(ranks, R)[0]
ap_2 = metrics.average_precision(ranks, R, k=2)[0]
p_2 = metrics.precision_at_k(ranks, 2)[0]
r_2 = metrics.recall_at_k(ranks, R, 2)[0]
print(f"AP = (1/1 + 2/3) / 3 = {ap:.4f}")
print(f"AP@2 = (1/1) / min(3, 2) = {ap_2:.4f}")
print(f"P@2 = {p_2:.4f}, R@2 = {r_2:.4f}")

# %% [markdown]
# mAP@all needs the *whole* ranking of the database for every query.
# `retrieval.exact.evaluate_exact` computes it exactly without sorting every row: it sorts only the
# relevant items' distances and counts, for each of them, the non-relevant items ahead of it
# (`exact.ranks_by_sorting` says it in ten lines; the default, `exact.ranks_by_counting`, counts
# with buckets in compiled code and gives the same ranks faster).
# The benchmark in `benchmarks/bench_map.py` checks it against scikit-learn's
# `average_precision_score`.
#
# ## A sanity check: every image finds itself
#
# Before trusting any number, search the database with its own images. With an exact index, each
# must come back as its own nearest neighbour (up to exact duplicates in the data) at distance
# zero, up to float32 rounding: faiss computes $\|x\|^2 + \|y\|^2 - 2\,x \cdot y$, which leaves
# residues of about $10^{-5}$ where the exact answer is 0.

# %%
xb, xq = raw_pixels(split.xb), raw_pixels(split.xq)
flat = index.Index(xb.shape[1], metric="l2").add(xb)  # exact: nothing to train
probe = np.arange(0, len(xb), max(1, len(xb) // 500))
D, I = flat.search(xb[probe], k=1, progress=False)
near_zero, itself = np.mean(D[:, 0] < 1e-3), np.mean(I[:, 0] == probe)
# NBVAL_CHECK_OUTPUT
print(f"{len(probe)} self-queries: distance below 1e-3 for {near_zero:.3f}, "
      f"itself first for {itself:.3f}")

# %% [markdown]
# ## Baselines: raw pixels and PCA
#
# Raw pixels compare images pixel by pixel, with the squared Euclidean distance (L2) or the cosine
# distance (1 − cosine similarity, which ignores overall brightness). PCA, fitted on the database,
# keeps the directions of largest variance; we sweep its size and report one in the table.

# %%
pca_dims = sorted(set(config.pca_dims) | {config.table_pca_dim})


def project_all():
    """PCA of each size, fitted on the database, applied to both sides."""
    out = {}
    for d in pca_dims:
        out[f"b{d}"], out[f"q{d}"] = pca(xb, [xb, xq], dim=d, seed=seed)
    return out


projected = cache.cached("pca", {"dims": pca_dims, "seed": seed},
                         {"xb": split.xb, "xq": split.xq}, project_all)

# %%
rows = [protocol.evaluate("raw pixels", xq, xb, split, "l2"),
        protocol.evaluate("raw pixels", xq, xb, split, "cosine")]
sweep = {}
for metric in ("l2", "cosine"):
    sweep[metric] = [
        protocol.evaluate(f"PCA-{d}", projected[f"q{d}"], projected[f"b{d}"],
                          split, metric)
        for d in pca_dims]
rows += [r for metric in ("l2", "cosine") for r in sweep[metric]
         if r["dim"] == config.table_pca_dim]

# %%
display(Markdown(viz.results_table(rows)))
# NBVAL_CHECK_OUTPUT
for r in rows:
    print(f"{r['method']:>11} {r['metric']:>6}: mAP@all {r['map_all']:.3f}  "
          f"P@10 {r['p_at_10']:.3f}")

# %% [markdown]
# Profile: the table above is from the profile named in the parameters cell; the
# {ref}`results chapter <ch-results>` shows the full-profile numbers next to the quick ones.

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
viz.pr_curves({f"{r['method']} ({r['metric']})": r["pr_curve"] for r in rows},
              ax=ax1)
plt.show()

# %% [markdown]
# mAP@all against the number of PCA dimensions, with raw pixels as the dashed line:

# %%
fig, ax2 = plt.subplots(figsize=(5, 3.6))
for metric, results in sweep.items():
    ax2.plot(pca_dims, [r["map_all"] for r in results], marker="o",
             label=f"PCA ({metric})")
    raw = next(r for r in rows[:2] if r["metric"] == metric)
    ax2.axhline(raw["map_all"], ls="--", lw=1, color=ax2.lines[-1].get_color(),
                label=f"raw pixels ({metric})")
ax2.set(xscale="log", xlabel="PCA dimensions", ylabel="mAP@all",
        title="mAP@all against PCA size")
ax2.set_xticks(pca_dims, [str(d) for d in pca_dims])
ax2.title.set_fontsize(9)
ax2.legend(fontsize=7)
ax2.grid(alpha=0.3)
plt.show()

# %% [markdown]
# ## What the baselines retrieve
#
# The same fixed queries (the first test query of each class) with raw pixels and with PCA;
# a green frame marks a result of the query's class, a red frame one of another class.

# %%
shown = np.array([int(np.flatnonzero(split.yq == c)[0]) for c in range(10)])
d = config.table_pca_dim
pairs = {"raw pixels, cosine": (xq, xb),
         f"PCA-{d}, cosine": (projected[f"q{d}"], projected[f"b{d}"])}
for name, (fq, fb) in pairs.items():
    flat = index.Index.build(fb, "cosine")
    _, I = flat.search(fq[shown], k=8, progress=False)
    viz.retrieval_gallery(split.xq[shown], split.yq[shown], split.xb,
                          split.yb, I, k=8, title=name,
                          class_names=fashion_mnist.CLASS_NAMES)
    plt.show()

# %% [markdown]
# Most errors are between classes that look alike at 28×28: shirts, T-shirts, pullovers and coats;
# sandals, sneakers and ankle boots. Footwear, trousers and bags are easy.

# %%
record = runs.write_results(  # the raw-pixel rows and the whole PCA sweep
    "01_retrieval_baselines", profile, split.describe(),
    rows[:2] + sweep["l2"] + sweep["cosine"],
    seed=seed, wall_s=time.time() - started, config=config)
print("results record written:", runs.shown(record))

# %% [markdown]
# ## Summary
#
# - Retrieval is measured on Fashion-MNIST, database = training images, queries = test images,
#   relevant = same class; mAP@all divides by all relevant items, ties go to the non-relevant item.
# - Raw pixels are a real baseline, not a straw man; cosine distance does better than L2, and a
#   few dozen PCA dimensions match the 784 raw ones with cosine and beat them with L2.
# - Any GAN-based descriptor in this book has to beat these numbers on the same protocol.
#
# ## Exercises
#
# 1. Change the tie rule to "relevant first" in a copy of `retrieval.exact.ranks_by_sorting`. How much does
#    mAP@all of raw pixels move? Why is the effect larger for quantised features?
#
#    ```{admonition} Hint
#    :class: dropdown
#    A tie rule only matters for database items at exactly the same distance from the query.
#    How often does that happen with 784 float pixel values, and how often with 16-bit binary
#    codes, whose Hamming distances take only 17 values?
#    ```
#
# 2. Whitened PCA (`descriptors.pca(..., whiten=True)`) weighs every direction equally. Does it help
#    retrieval here? Explain with the eigenvalue spectrum.
#
#    ```{admonition} Hint
#    :class: dropdown
#    Plot `np.linalg.eigvalsh(np.cov(pixels, rowvar=False))` on a log scale. Whitening divides
#    each component by the square root of its eigenvalue: what happens to the components with
#    the smallest eigenvalues, and what do they contain in a picture of a garment?
#    ```
#
# 3. Compute mAP@1000 with the divisor $R$ instead of $\min(R, k)$. What is its largest possible
#    value on this protocol, and why does that make it hard to read?
#
#    ```{admonition} Solution
#    :class: dropdown
#    With divisor $R$, a perfect top 1000 scores $\sum_{i \le 1000} i/i \,/\, R = 1000 / R$. In
#    the full profile every class has $R = 6000$ relevant database images, so the best possible
#    value is $1/6 \approx 0.167$; in the quick profile ($R = 2000$) it is $0.5$. The maximum
#    depends on the database size, so numbers from two profiles (or two data sets) cannot be
#    compared, and a perfect method does not score 1. The divisor $\min(R, k)$ fixes both.
#    ```
