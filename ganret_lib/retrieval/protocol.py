"""The book's retrieval protocol (chapter 1), shared by every retrieval chapter.

Fashion-MNIST; database = training images, queries = test images, relevant = same class.
Profiles may take a class-balanced subset of each, chosen by the seed; every record says so.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import fashion_mnist
from . import exact, metrics


@dataclass
class Split:
    """Database and query images with their labels and their ids in the original splits."""
    xb: np.ndarray  # uint8 (n_db, 28, 28)
    yb: np.ndarray
    xq: np.ndarray  # uint8 (n_queries, 28, 28)
    yq: np.ndarray
    db_ids: np.ndarray  # indices into the training split
    query_ids: np.ndarray  # indices into the test split
    dataset: str = "Fashion-MNIST"
    split_sizes: tuple[int, int] = (60000, 10000)  # (training, test) images the subsets come from
    query_split: str = "test split"  # "train split" for validation queries (held out of the database)

    def describe(self) -> dict:
        whole = (len(self.yb), len(self.yq)) == tuple(self.split_sizes)
        return {"dataset": self.dataset, "database": "train split", "queries": self.query_split,
                "relevance": "same class", "n_db": len(self.yb), "n_queries": len(self.yq),
                "subset": "none" if whole else "class-balanced, seeded"}


def load_split(n_db: int | None = None, n_queries: int | None = None, seed: int = 0) -> Split:
    """The protocol's database and queries; None takes the whole split."""
    xb, yb = fashion_mnist.load_fashion_mnist("train")
    xq, yq = fashion_mnist.load_fashion_mnist("test")
    db_ids = fashion_mnist.stratified_subset(yb, n_db, seed)
    query_ids = fashion_mnist.stratified_subset(yq, n_queries, seed + 1)
    return Split(xb[db_ids], yb[db_ids], xq[query_ids], yq[query_ids], db_ids, query_ids,
                 split_sizes=(len(yb), len(yq)))


def load_validation_split(n_db: int | None = None, n_queries: int = 2000, seed: int = 0) -> Split:
    """Validation queries for choosing settings, all from the training split: `n_queries`
    class-balanced training images as queries, and a database drawn from the other training
    images (`n_db` of them, None: all the others). No test image is touched."""
    xtrain, ytrain = fashion_mnist.load_fashion_mnist("train")
    query_ids = fashion_mnist.stratified_subset(ytrain, n_queries, seed + 2)
    rest = np.setdiff1d(np.arange(len(ytrain)), query_ids)
    db_ids = rest[fashion_mnist.stratified_subset(ytrain[rest], n_db, seed + 3)]
    return Split(xtrain[db_ids], ytrain[db_ids], xtrain[query_ids], ytrain[query_ids], db_ids, query_ids,
                 dataset="Fashion-MNIST (validation: queries and database from the train split)",
                 split_sizes=(len(ytrain), len(ytrain)), query_split="train split")


def evaluate(method: str, fq: np.ndarray, fb: np.ndarray, split: Split, metric: str = "l2",
             label_free: bool = True, progress: bool = True, per_query: dict | None = None,
             **extra) -> dict:
    """One results row: exact ranking of the whole database for every query, all metrics.

    `per_query`, a dict, receives this method's per-query metrics ({"ap_all": ..., "p_at_10":
    ...}) under its name, for paired comparisons (`metrics.paired_bootstrap`); records keep
    only the means.
    """
    values = exact.evaluate_exact(fq, split.yq, fb, split.yb, metric=metric, progress=progress)
    if per_query is not None:
        per_query[method] = {k: v for k, v in values.items() if k != "pr_curve"}
    summary = metrics.summarize(values)
    return {"method": method, "metric": metric, "label_free": label_free, "dim": int(fb.shape[1]),
            **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in summary.items()}, **extra}
