"""mAP@all of 10,000 queries against 60,000 database items: the exact ranker against a plain
per-query loop over scikit-learn's average_precision_score, on the same ranking keys.

    .venv/bin/python benchmarks/bench_map.py [--sklearn-queries N] [--dim 64] [--repeats 3]

Features: PCA of Fashion-MNIST (test queries, train database), as chapter 1 computes them.
The timed run is the chapter's float32 path. The agreement check runs both in float64: in
float32, keys tie often at this size and differ in their last bits between matrix-product
batch shapes, which reorders near-ties. sklearn scores tied items as a group while the ranker
puts non-relevant items first, so sklearn gets the keys with the ranker's tie rule added below
their resolution (under half a unit in the last place): both then rank identically, and their
APs must agree to 1e-6 on every query compared.
"""
import argparse
import statistics
import time

import numpy as np
from sklearn.metrics import average_precision_score
from tqdm import tqdm

from ganret_lib.core import runs
from ganret_lib.data import fashion_mnist
from ganret_lib.methods import descriptors
from ganret_lib.retrieval import exact


def sklearn_scores(keys: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Scores (larger = better) ordering items by key, then non-relevant first, then by index.

    The tie-breakers add less than half a float32 unit in the last place, so items with
    different keys keep their order; the index term only separates tied relevant items,
    which sklearn would otherwise score as one group."""
    ulp = np.spacing(keys)
    return -(keys + ulp * (0.25 * relevant + 0.125 * np.arange(len(keys)) / len(keys)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sklearn-queries", type=int, default=10000, help="queries for the sklearn loop")
    parser.add_argument("--dim", type=int, default=64, help="PCA dimensions of the features")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of the exact ranker")
    args = parser.parse_args()
    runs.seed_everything(0)

    xb_img, yb = fashion_mnist.load_fashion_mnist("train")
    xq_img, yq = fashion_mnist.load_fashion_mnist("test")
    xb, xq = descriptors.raw_pixels(xb_img), descriptors.raw_pixels(xq_img)
    fb, fq = descriptors.pca(xb, [xb, xq], dim=args.dim)

    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        ours = exact.evaluate_exact(fq, yq, fb, yb, "l2", progress=False)["ap_all"]
        times.append(time.perf_counter() - start)
    ours_s = statistics.median(times)

    n = min(args.sklearn_queries, len(fq))
    q64, b64 = fq[:n].astype(np.float64), fb.astype(np.float64)
    ours64 = exact.evaluate_exact(q64, yq[:n], b64, yb, "l2", progress=False, dtype=np.float64)["ap_all"]
    theirs, start = [], time.perf_counter()
    a_ops, b_ops = exact.key_operands(q64, b64, "l2")
    for lo in tqdm(range(0, n, 256), desc="sklearn loop", mininterval=2):
        keys = exact.ranking_keys(a_ops[lo:lo + 256], b_ops)
        for i, row in enumerate(keys):
            relevant = yb == yq[lo + i]
            theirs.append(average_precision_score(relevant, sklearn_scores(row, relevant)))
    sklearn_s = (time.perf_counter() - start) * len(fq) / n
    diff = np.abs(ours64 - np.array(theirs)).max()

    print(f"exact ranker, 10,000 x 60,000, d={args.dim}: median {ours_s:.2f} s over {args.repeats} runs "
          f"({', '.join(f'{t:.2f}' for t in times)})")
    print(f"sklearn per-query loop: {sklearn_s:.1f} s" + (f" (extrapolated from {n} queries)" if n < len(fq) else ""))
    print(f"ratio (sklearn / exact ranker): {sklearn_s / ours_s:.1f}x; mAP@all {ours.mean():.6f}")
    print(f"max |AP difference| over {n} queries (float64 keys): {diff:.2e}; mAP@all of these queries "
          f"float32 {ours[:n].mean():.6f}, float64 {ours64.mean():.6f}")
    if diff > 1e-6:
        raise SystemExit("FAIL: the exact ranker and sklearn disagree")


if __name__ == "__main__":
    main()
