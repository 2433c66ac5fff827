"""IVF-PQ over 1,000,000 of the book's descriptors on one machine, in bounded memory: build time,
peak memory, queries per second and recall@10 against exact search, with and without re-ranking
a shortlist by exact distances read from disk. Chapter 4's index section quotes the record.

    .venv/bin/python benchmarks/bench_index_1m.py [--n 1000000] [--queries 1000] [--shard 100000]

The descriptors are chapter 4's label-free GAN descriptor (zoo.gan_descriptor, quick profile:
max-pooled discriminator layers, PCA to 32 dimensions, fitted on the 60,000 training images) of
augmented training images: each is a training image shifted by up to 3 pixels each way and
mirrored with probability 1/2, drawn with replacement (seeded). Queries are the descriptors of
test images, never augmented. Nothing holds the million vectors in memory at once: they are
made a shard at a time, added to the index as compressed codes, and written to a file on disk
(float32) that the re-ranking and the exact search read shard by shard. The descriptor is fitted
in this process and saved; a child process loads it and does everything else, so that its peak
resident memory is the build's and search's alone; it fails if that exceeds --memory-cap-gib.
Writes data/results/bench/index_1m.json.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ganret_lib import zoo
from ganret_lib.core import runs
from ganret_lib.data import fashion_mnist
from ganret_lib.methods import descriptors
from ganret_lib.retrieval.index import Index, default_nlist
from ganret_lib.retrieval.vectors import l2_normalise

K = 10


def peak_rss_gib() -> float:
    """This process's peak resident memory (VmHWM: unlike getrusage's maxrss, it does not carry the
    parent's peak over into a child)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20  # kB
    raise RuntimeError("no VmHWM in /proc/self/status: this benchmark needs Linux")


def augmented(train: np.ndarray, n: int, rng: np.random.Generator, shift: int = 3) -> np.ndarray:
    """n training images, each shifted by up to `shift` pixels and mirrored half of the time."""
    picked = train[rng.integers(0, len(train), n)]
    padded = np.pad(picked, ((0, 0), (shift, shift), (shift, shift)))
    dy, dx = rng.integers(0, 2 * shift + 1, (2, n))
    h, w = train.shape[1:]
    out = np.stack([padded[i, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, ::-1]
    return out


def describe(descriptor, stored: np.ndarray, chunk: int = 10_000) -> np.ndarray:
    """Descriptors of many images, `chunk` at a time: the pooled layers before the PCA are
    3,584 floats per image, 1.4 GB for a shard of 100,000 at once."""
    return np.concatenate([descriptor.transform(stored[lo:lo + chunk]) for lo in range(0, len(stored), chunk)])


def exact_top_k(store: np.memmap, q: np.ndarray, k: int, shard: int) -> np.ndarray:
    """Exact cosine top-k over the on-disk vectors, a shard at a time (merging shard winners)."""
    best_d = np.full((len(q), k), np.inf, np.float32)
    best_i = np.zeros((len(q), k), np.int64)
    for lo in range(0, len(store), shard):
        flat = Index.build(np.asarray(store[lo:lo + shard]), "cosine")
        d, i = flat.search(q, k, progress=False)
        d, i = np.concatenate([best_d, d], 1), np.concatenate([best_i, i + lo], 1)
        keep = np.argsort(d, axis=1, kind="stable")[:, :k]
        best_d, best_i = np.take_along_axis(d, keep, 1), np.take_along_axis(i, keep, 1)
    return best_i


def rerank(store: np.memmap, q: np.ndarray, shortlist: np.ndarray, k: int) -> np.ndarray:
    """The shortlist of each query re-ordered by exact cosine distance, read from disk."""
    qn = l2_normalise(q)
    out = np.empty((len(q), k), np.int64)
    for row, (v, ids) in enumerate(zip(qn, shortlist)):
        ids = ids[ids >= 0]
        cand = l2_normalise(np.asarray(store[np.sort(ids)]))
        out[row] = np.sort(ids)[np.argsort(-(cand @ v), kind="stable")[:k]]
    return out


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(np.intersect1d(a, b)) / truth.shape[1] for a, b in zip(found, truth)]))


def timed(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):  # the median of a few runs: these machines are shared
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return out, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="database descriptors")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--shard", type=int, default=100_000, help="descriptors made and held at a time")
    parser.add_argument("--train", type=int, default=200_000, help="descriptors the quantisers learn from")
    parser.add_argument("--pq-m", type=int, default=16, help="sub-quantisers (bytes per code)")
    parser.add_argument("--shortlist", type=int, default=100, help="candidates re-ranked by exact distance")
    parser.add_argument("--memory-cap-gib", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--descriptor-file", type=Path, help=argparse.SUPPRESS)  # the child's
    args = parser.parse_args()
    if args.descriptor_file is None:  # the parent: fit the descriptor, then measure in a child
        runs.seed_everything(0)
        train_images, _ = fashion_mnist.load_fashion_mnist("train")
        with tempfile.TemporaryDirectory() as tmp:
            saved = zoo.gan_descriptor("quick").fit(train_images).save(Path(tmp) / "descriptor.pt")
            raise SystemExit(subprocess.run([sys.executable, __file__, *sys.argv[1:],
                                             "--descriptor-file", str(saved)]).returncode)
    build(args)


def build(args) -> None:
    runs.seed_everything(0)
    started = time.time()
    rng = np.random.default_rng(0)
    train_images, _ = fashion_mnist.load_fashion_mnist("train")
    test_images, _ = fashion_mnist.load_fashion_mnist("test")
    descriptor = descriptors.load(args.descriptor_file)
    queries = describe(descriptor, test_images[rng.choice(len(test_images), args.queries, replace=False)])
    baseline_gib = peak_rss_gib()  # the data, the network and torch

    t0 = time.perf_counter()
    sample = np.concatenate([describe(descriptor, augmented(train_images, n, rng))
                             for n in np.diff(np.r_[0:args.train:args.shard, args.train])])
    describe_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = Index(sample.shape[1], "cosine", "pq", nlist=default_nlist(args.n), pq_m=args.pq_m).train(sample)
    train_s = time.perf_counter() - t0
    del sample
    folder = Path(tempfile.mkdtemp(prefix="ganret-1m-"))
    store = np.lib.format.open_memmap(folder / "vectors.npy", "w+", np.float32, (args.n, queries.shape[1]))
    add_s = 0.0
    for lo in tqdm(range(0, args.n, args.shard), desc="describe and add", unit="shard"):
        t0 = time.perf_counter()
        vectors = describe(descriptor, augmented(train_images, min(args.shard, args.n - lo), rng))
        describe_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        index.add(vectors, np.arange(lo, lo + len(vectors)))
        store[lo:lo + len(vectors)] = vectors
        add_s += time.perf_counter() - t0
    store.flush()
    import faiss

    index_bytes = len(faiss.serialize_index(index.index))
    t0 = time.perf_counter()
    truth = exact_top_k(store, queries, K, args.shard)
    exact_s = time.perf_counter() - t0
    rows = []
    for nprobe in (1, 4, 16, 64, 256):
        index.index.nprobe = nprobe
        (_, found), search_s = timed(lambda: index.search(queries, args.shortlist, progress=False), args.repeats)
        reranked, rerank_s = timed(lambda f=found, s=store: rerank(s, queries, f, K), args.repeats)
        rows.append({"nprobe": nprobe, "recall_at_10": round(recall(found[:, :K], truth), 4),
                     "qps": round(len(queries) / search_s, 1),
                     f"recall_at_10_reranked_{args.shortlist}": round(recall(reranked, truth), 4),
                     "qps_reranked": round(len(queries) / (search_s + rerank_s), 1)})
        print(rows[-1])
    peak = peak_rss_gib()
    record = {"benchmark": "index_1m", "n": args.n, "queries": args.queries, "dim": int(queries.shape[1]),
              "descriptor": descriptor.identity, "index": {"kind": "IVF-PQ", "nlist": index.index.nlist,
                                                           "pq_m": args.pq_m, "bits": 8},
              "train_vectors": args.train, "shard": args.shard, "shortlist": args.shortlist,
              "train_s": round(train_s, 1), "describe_s": round(describe_s, 1), "add_s": round(add_s, 1),
              "exact_search_s": round(exact_s, 1), "index_bytes": index_bytes,
              "bytes_per_vector": round(index_bytes / args.n, 2), "vectors_on_disk_bytes": store.nbytes,
              "peak_rss_gib": round(peak, 3), "rss_before_build_gib": round(baseline_gib, 3),
              "memory_cap_gib": args.memory_cap_gib, "rows": rows,
              "provenance": runs.provenance(0, time.time() - started)}
    out = runs.project_root() / "data" / "results" / "bench" / "index_1m.json"
    runs.atomic_write_bytes(out, (json.dumps(record, indent=1) + "\n").encode())
    print(json.dumps({k: v for k, v in record.items() if k not in ("rows", "provenance")}, indent=1))
    print(f"wrote {out}")
    del store
    (folder / "vectors.npy").unlink()
    folder.rmdir()
    if peak > args.memory_cap_gib:
        raise SystemExit(f"peak resident memory {peak:.2f} GiB exceeded the cap of {args.memory_cap_gib} GiB")


if __name__ == "__main__":
    main()
