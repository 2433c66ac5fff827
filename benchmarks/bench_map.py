"""mAP@all of 10,000 queries against 60,000 database items: the exact ranker against a plain
per-query loop over scikit-learn's average_precision_score, on the same float32 distances.

    .venv/bin/python benchmarks/bench_map.py [--sklearn-queries N] [--dim 64] [--repeats 3]

Features: PCA of Fashion-MNIST (test queries, train database), as chapter 1 computes them.
Prints the median time of each, their ratio, and the largest AP difference (must be <= 1e-6 on
queries whose distances have no ties; sklearn groups tied scores, the ranker ranks them
pessimistically, so tied queries are counted and reported, not compared).
"""
import argparse
import statistics
import time

import numpy as np
from sklearn.metrics import average_precision_score
from tqdm import tqdm

from ganret_lib import data, features, index, runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sklearn-queries", type=int, default=10000, help="queries for the sklearn loop")
    parser.add_argument("--dim", type=int, default=64, help="PCA dimensions of the features")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of the exact ranker")
    args = parser.parse_args()
    runs.seed_everything(0)

    xb_img, yb = data.load_fashion_mnist("train")
    xq_img, yq = data.load_fashion_mnist("test")
    xb, xq = features.raw_pixels(xb_img), features.raw_pixels(xq_img)
    fb, fq = features.pca(xb, [xb, xq], dim=args.dim)

    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        ours = index.evaluate_exact(fq, yq, fb, yb, "l2", progress=False)["ap_all"]
        times.append(time.perf_counter() - start)
    ours_s = statistics.median(times)

    n = min(args.sklearn_queries, len(fq))
    q, b = index._check_pair(fq[:n], fb, "l2")
    b_sqnorm = (b * b).sum(1)[None]
    theirs, untied, start = [], [], time.perf_counter()
    for lo in tqdm(range(0, n, 256), desc="sklearn loop", mininterval=2):
        dist = index.distances(q[lo:lo + 256], b, b_sqnorm, "l2")
        for i, row in enumerate(dist):
            theirs.append(average_precision_score(yb == yq[lo + i], -row))
    sklearn_s = (time.perf_counter() - start) * len(fq) / n
    for lo in range(0, n, 256):  # tie detection, outside the timed loop
        dist = index.distances(q[lo:lo + 256], b, b_sqnorm, "l2")
        untied += [len(np.unique(row)) == len(row) for row in dist]
    untied = np.array(untied)
    diff = np.abs(ours[:n] - np.array(theirs))[untied].max()

    print(f"exact ranker, 10,000 x 60,000, d={args.dim}: median {ours_s:.2f} s over {args.repeats} runs "
          f"({', '.join(f'{t:.2f}' for t in times)})")
    print(f"sklearn per-query loop: {sklearn_s:.1f} s" + (f" (extrapolated from {n} queries)" if n < len(fq) else ""))
    print(f"speed-up: {sklearn_s / ours_s:.1f}x; mAP@all {ours.mean():.6f}")
    print(f"max |AP difference| on {untied.sum()} untied queries: {diff:.2e} "
          f"({(~untied).sum()} queries with tied distances not compared)")
    if diff > 1e-6:
        raise SystemExit("FAIL: the exact ranker and sklearn disagree")


if __name__ == "__main__":
    main()
