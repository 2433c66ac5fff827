"""mAP@all of 10,000 queries against 60,000 database items, side by side in one run: the distance
product alone, the exact ranker (counting, the default), the previous ranker (sorting every
row's candidates) and a plain per-query loop over scikit-learn's average_precision_score; on a
machine with CUDA, the same evaluation on the GPU too. Then chapter 5's same-item ranking (the
rank of each query's clean copy among 70,000 items, `exact.target_ranks`) against its distance
product and against the same count with fresh batch-sized temporaries (its previous form).

    .venv/bin/python benchmarks/bench_map.py [--dims 128,784] [--sklearn-queries N] [--repeats 3]

Features: PCA of Fashion-MNIST (test queries, train database), as chapter 1 computes them; 784 is
raw pixels. Both rankers see the same float32 keys and must give bit-identical APs. The
agreement with sklearn runs in float64 at the first size: in float32, keys tie often at this
size and differ in their last bits between matrix-product batch shapes, which reorders near-ties.
sklearn scores tied items as a group while the ranker puts non-relevant items first, so sklearn
gets the keys with the ranker's tie rule added below their resolution (under half a unit in the
last place): both then rank identically, and their APs must agree to 1e-6 on every query.
Writes data/results/bench/exact_map.json (medians, ratios, provenance).
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch
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


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def distance_product(fq, fb, batch_size=256):
    """The keys of every batch, as the ranker computes them, and nothing else."""
    a, b = exact.key_operands(fq, fb, "l2")
    buffer = np.empty((batch_size, len(b)), dtype=b.dtype)
    for lo in range(0, len(a), batch_size):
        exact.ranking_keys(a[lo:lo + batch_size], b, out=buffer)


def target_ranks_unbuffered(fq, fb, targets, batch_size=1024):
    """`exact.target_ranks` as it was on the CPU: the torch path a GPU still takes (fresh keys and
    booleans for every batch), run on the CPU."""
    return exact._target_ranks_on_device(torch.device("cpu"), *exact._check_pair(fq, fb, "l2"), targets, "l2",
                                         batch_size)


def instance_row(fq, fb, repeats):
    """Same-item ranking: each query's own copy is appended to the database (70,000 items)."""
    fb = np.concatenate([fb, fq])
    targets = np.arange(len(fb) - len(fq), len(fb))
    product_s, _ = median_time(lambda: distance_product(fq, fb, batch_size=1024), repeats)
    now_s, ranks = median_time(lambda: exact.target_ranks(fq, fb, targets, "l2", device="cpu"), repeats)
    before_s, before = median_time(lambda: target_ranks_unbuffered(fq, fb, targets), repeats)
    if not np.array_equal(ranks, before):
        raise SystemExit("FAIL: the two same-item rankings disagree")
    row = {"dim": fq.shape[1], "n_db": len(fb), "product_s": product_s, "target_ranks_s": now_s,
           "unbuffered_s": before_s, "speedup_over_unbuffered": before_s / now_s,
           "target_ranks_over_product": now_s / product_s}
    print(f"same item, d={row['dim']}, {len(fb)} items: distance product {product_s:.2f} s; target_ranks "
          f"{now_s:.2f} s ({row['target_ranks_over_product']:.2f}x the product); with fresh temporaries "
          f"{before_s:.2f} s ({row['speedup_over_unbuffered']:.2f}x slower); same ranks")
    return row


def sklearn_check(fq, yq, fb, yb, n):
    """(seconds extrapolated to all queries, largest |AP difference|) over the first n queries."""
    q64, b64 = fq[:n].astype(np.float64), fb.astype(np.float64)
    ours64 = exact.evaluate_exact(q64, yq[:n], b64, yb, "l2", progress=False, dtype=np.float64)["ap_all"]
    theirs, start = [], time.perf_counter()
    a_ops, b_ops = exact.key_operands(q64, b64, "l2")
    for lo in tqdm(range(0, n, 256), desc="sklearn loop", mininterval=2):
        keys = exact.ranking_keys(a_ops[lo:lo + 256], b_ops)
        for i, row in enumerate(keys):
            relevant = yb == yq[lo + i]
            theirs.append(average_precision_score(relevant, sklearn_scores(row, relevant)))
    seconds = (time.perf_counter() - start) * len(fq) / n
    return seconds, float(np.abs(ours64 - np.array(theirs)).max())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", default="128,784", help="feature sizes, comma-separated (784 = raw pixels)")
    parser.add_argument("--sklearn-queries", type=int, default=2000, help="queries for the sklearn loop")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each ranker")
    args = parser.parse_args()
    runs.seed_everything(0)
    started = time.time()
    exact.evaluate_exact(np.zeros((1, 2)), [0], np.zeros((3, 2)), [0, 1, 0], progress=False)  # compile once

    xb_img, yb = fashion_mnist.load_fashion_mnist("train")
    xq_img, yq = fashion_mnist.load_fashion_mnist("test")
    xb, xq = descriptors.raw_pixels(xb_img), descriptors.raw_pixels(xq_img)
    rows = []
    for dim in [int(d) for d in args.dims.split(",")]:
        fb, fq = (xb, xq) if dim == xb.shape[1] else descriptors.pca(xb, [xb, xq], dim=dim)
        product_s, _ = median_time(lambda: distance_product(fq, fb), args.repeats)  # noqa: B023
        times = {}
        aps = {}
        for ranker in ("counting", "sorting"):
            times[ranker], per_query = median_time(
                lambda: exact.evaluate_exact(fq, yq, fb, yb, "l2", progress=False, ranker=ranker,  # noqa: B023
                                             device="cpu"), args.repeats)
            aps[ranker] = per_query["ap_all"]
        if not np.array_equal(aps["counting"], aps["sorting"]):
            raise SystemExit(f"FAIL: the two rankers disagree at d={dim}")
        row = {"dim": dim, "product_s": product_s, "counting_s": times["counting"], "sorting_s": times["sorting"],
               "speedup_over_sorting": times["sorting"] / times["counting"],
               "counting_over_product": times["counting"] / product_s, "map_all": float(aps["counting"].mean())}
        print(f"d={dim}: distance product {product_s:.2f} s; counting ranker {times['counting']:.2f} s "
              f"({row['counting_over_product']:.2f}x the product); sorting ranker {times['sorting']:.2f} s; "
              f"counting is {row['speedup_over_sorting']:.2f}x faster; mAP@all {row['map_all']:.6f} (both)")
        if torch.cuda.is_available():  # the same evaluation on the GPU: its float32 keys round otherwise
            row["gpu_s"], per_query = median_time(
                lambda: exact.evaluate_exact(fq, yq, fb, yb, "l2", progress=False, device="cuda"),  # noqa: B023
                args.repeats)
            row["gpu_max_ap_difference"] = float(np.abs(per_query["ap_all"] - aps["counting"]).max())
            print(f"d={dim}: on {torch.cuda.get_device_name(0)} {row['gpu_s']:.2f} s "
                  f"({times['counting'] / row['gpu_s']:.1f}x the CPU's counting ranker); "
                  f"max |AP difference| from the CPU's {row['gpu_max_ap_difference']:.1e}")
        rows.append(row)

    first = rows[0]["dim"]
    fb, fq = (xb, xq) if first == xb.shape[1] else descriptors.pca(xb, [xb, xq], dim=first)
    instance = instance_row(fq, fb, args.repeats)
    n = min(args.sklearn_queries, len(fq))
    sklearn_s, diff = sklearn_check(fq, yq, fb, yb, n)
    print(f"sklearn per-query loop, d={first}: {sklearn_s:.1f} s" +
          (f" (extrapolated from {n} queries)" if n < len(fq) else "") +
          f"; {sklearn_s / rows[0]['counting_s']:.0f}x the counting ranker; "
          f"max |AP difference| over {n} queries (float64 keys): {diff:.2e}")
    if diff > 1e-6:
        raise SystemExit("FAIL: the exact ranker and sklearn disagree")
    record = {"benchmark": "exact_map", "n_queries": len(fq), "n_db": len(fb), "repeats": args.repeats,
              "rows": rows, "instance": instance,
              "sklearn": {"dim": first, "queries": n, "seconds_all_queries": sklearn_s, "max_ap_difference": diff},
              "provenance": runs.provenance(0, time.time() - started)}
    out = runs.project_root() / "data" / "results" / "bench" / "exact_map.json"
    runs.atomic_write_bytes(out, (json.dumps(record, indent=1) + "\n").encode())


if __name__ == "__main__":
    main()
