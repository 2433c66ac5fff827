"""The book's retrieval protocol (chapter 1), shared by every retrieval chapter.

Fashion-MNIST; database = training images, queries = test images, relevant = same class.
Profiles may take a class-balanced subset of each, chosen by the seed; every record says so.
The instance-level variant (chapter 5, `with_clean_copies`): the database also holds a clean
copy of every query, and that copy is the query's one relevant item.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

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
    targets: np.ndarray | None = None  # instance level: database position of each query's clean copy

    def describe(self) -> dict:
        n_copies = 0 if self.targets is None else len(self.targets)
        whole = (len(self.yb) - n_copies, len(self.yq)) == tuple(self.split_sizes)
        instance = {"database": f"train split + a clean copy of each query ({n_copies})",
                    "relevance": "the query's own clean copy"} if n_copies else {}
        return {"dataset": self.dataset, "database": "train split", "queries": self.query_split,
                "relevance": "same class", "n_db": len(self.yb), "n_queries": len(self.yq),
                "subset": "none" if whole else "class-balanced, seeded"} | instance


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


def with_clean_copies(split: Split) -> Split:
    """The instance-level protocol: the database gains the clean copy of every query (after the
    split's own images) and each query's one relevant item is its copy. Queries are then
    degraded by the caller; ranking the copy first means finding the very same garment."""
    if split.targets is not None:
        raise ValueError("this split already holds the queries' clean copies")
    n_db = len(split.yb)
    return replace(split, xb=np.concatenate([split.xb, split.xq]), yb=np.concatenate([split.yb, split.yq]),
                   targets=n_db + np.arange(len(split.yq)))


def evaluate_instance(method: str, fq: np.ndarray, fb: np.ndarray, split: Split, metric: str = "l2",
                      per_query: dict | None = None, **extra) -> dict:
    """One instance-level results row: recall@1, recall@10 and MRR of each query's clean copy
    (`with_clean_copies`) in an exact ranking of the whole database. `per_query` as in `evaluate`."""
    if split.targets is None:
        raise ValueError("instance-level evaluation needs a split with clean copies; use with_clean_copies(split)")
    values = metrics.instance_metrics(exact.target_ranks(fq, fb, split.targets, metric))
    if per_query is not None:
        per_query[method] = values
    means = {("mrr" if k == "rr" else k): round(float(v.mean()), 6) for k, v in values.items()}
    return {"method": method, "metric": metric, "dim": int(fb.shape[1]), "n_queries": len(fq), **means, **extra}


def evaluate(method: str, fq: np.ndarray, fb: np.ndarray, split: Split, metric: str = "l2",
             label_free: bool = True, progress: bool = True, per_query: dict | None = None,
             **extra) -> dict:
    """One results row: exact ranking of the whole database for every query, all metrics.

    `per_query`, a dict, receives this method's per-query metrics ({"ap_all": ..., "p_at_10":
    ...}) under its name, for paired comparisons (`metrics.paired_bootstrap`); records keep
    only the means.
    """
    values = exact.evaluate_exact(fq, split.yq, fb, split.yb, metric=metric, progress=progress)
    return _row(method, values, per_query, metric=metric, label_free=label_free, dim=int(fb.shape[1]), **extra)


def evaluate_keys(method: str, keys_of, split: Split, label_free: bool = True, progress: bool = True,
                  per_query: dict | None = None, **extra) -> dict:
    """`evaluate` for a ranking given as keys (smaller = closer) rather than descriptors, such as
    diffusion scores (chapter 6): `keys_of(q)` returns the (len(q), n_db) keys of queries q."""
    values = exact.evaluate_keys(keys_of, split.yq, split.yb, progress=progress)
    return _row(method, values, per_query, label_free=label_free, **extra)


def _row(method: str, values: dict, per_query: dict | None, **columns) -> dict:
    if per_query is not None:
        per_query[method] = {k: v for k, v in values.items() if k != "pr_curve"}
    summary = metrics.summarize(values)
    first = {k: columns.pop(k) for k in ("metric", "label_free", "dim") if k in columns}
    return {"method": method, **first,
            **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in summary.items()}, **columns}
