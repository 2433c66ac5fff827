"""The `ganret` command: fit a model on a folder of images, index a folder, query it, inspect an index.

    ganret fit IMAGES --out model.pt [--pipeline dcgan|autoencoder] [--steps N] [--size 32|64]
    ganret index IMAGES --model model.pt --out images.index [--index auto|flat|hnsw|ivf|ivfpq]
    ganret query images.index photo.png ... [-k 10] [--html results.html] [--json]
    ganret info images.index

Errors print one line that says what to do and exit with status 1; an interrupt exits with 130
and leaves what was finished (a run folder, finished batches) for the same command to resume.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..core import distributed
from ..core.device import describe
from ..core.loop import CheckpointError, TrainingDiverged
from ..data.fashion_mnist import DataError
from ..data.folder import FolderError, ImageFileError, describe_skipped
from ..methods.descriptors import DescriptorFileError
from ..retrieval.index import IndexFileError
from . import gallery, search
from . import model as models

EXPECTED = (FolderError, ImageFileError, DataError, IndexFileError, DescriptorFileError, models.ModelFileError,
            CheckpointError, TrainingDiverged)


def _fit(args) -> None:
    settings = models.FitSettings(pipeline=args.pipeline, steps=args.steps, size=args.size,
                                  channels=3 if args.color else 1, width=args.width, seed=args.seed)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if rank == 0:
        print(f"networks run on {describe(args.device)}" + (f", {world} processes" if world > 1 else ""))
    model = models.fit(args.images, args.out, settings, device=args.device, progress=not args.quiet)
    if model is None:  # another rank of a data-parallel run: rank 0 reports
        return
    t = model.training
    print(f"wrote {args.out}: {model.identity}, trained on {t['images']} images for {t['steps']} steps "
          f"({t['train_s']:.0f} s of training); its run folder {models.run_folder(args.out)} can be deleted")


def _index(args) -> None:
    built = search.build_index(args.images, args.model, args.out, args.index, args.batch, progress=not args.quiet)
    if built.skipped:
        print(describe_skipped(built.skipped))
    resumed = f", {built.resumed_batches} batches resumed" if built.resumed_batches else ""
    print(f"wrote {built.path}: {built.n} images, {built.kind} index{resumed}")


def _query(args) -> None:
    results = search.query(args.index, args.images, args.k, args.model)
    if args.html:
        gallery.write_html(results, args.html)
    if args.json:
        print(json.dumps(results, indent=1))
        return
    for found in results:
        print(f"query {found['query']}")
        for r in found["results"]:
            print(f"  {r['rank']:3d}  {r['distance']:.4f}  {r['path']}")
    if args.html:
        print(f"wrote {args.html}")


def _info(args) -> None:
    for key, value in search.info(args.index).items():
        if key == "folder" and value and Path(value).is_relative_to(Path.cwd()):
            value = Path(value).relative_to(Path.cwd())  # as the user would type it here
        print(f"{key:15s} {value}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ganret", description="Image retrieval with the book's GAN descriptors, "
                                "on your own images.")
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fit", help="train a model on a folder of images (or fashion-mnist)")
    f.add_argument("images", help="a folder of images (searched recursively), or fashion-mnist")
    f.add_argument("--out", required=True, help="the model file to write")
    f.add_argument("--pipeline", choices=models.PIPELINES, default="dcgan",
                   help="dcgan: discriminator features; autoencoder: the non-adversarial control (default dcgan)")
    f.add_argument("--steps", type=int, default=models.FitSettings.steps, help="training steps of batch 128")
    f.add_argument("--size", type=int, choices=(32, 64), default=32, help="images are brought to size x size")
    f.add_argument("--color", action="store_true", help="keep three channels (default: grayscale)")
    f.add_argument("--width", type=int, default=models.FitSettings.width, help="network width (ngf = ndf)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--device", default="auto", help="auto (a GPU if there is one), cpu, cuda, cuda:1, ...")
    f.set_defaults(run=_fit)
    i = sub.add_parser("index", help="index a folder of images with a model")
    i.add_argument("images", help="a folder of images (searched recursively)")
    i.add_argument("--model", required=True, help="a model file written by `ganret fit`")
    i.add_argument("--out", required=True, help="the index file to write")
    i.add_argument("--index", choices=["auto", *search.KINDS], default="auto",
                   help="faiss index type; auto: flat below 100,000 images, hnsw below 1,000,000, else ivfpq")
    i.add_argument("--batch", type=int, default=256, help="images read and described at a time")
    i.set_defaults(run=_index)
    q = sub.add_parser("query", help="the nearest indexed images of query images")
    q.add_argument("index", help="an index file written by `ganret index`")
    q.add_argument("images", nargs="+", help="query image files")
    q.add_argument("-k", type=int, default=10, help="results per query (default 10)")
    q.add_argument("--model", help="the model file (default: the one the index names)")
    q.add_argument("--html", help="also write a self-contained page of the results")
    q.add_argument("--json", action="store_true", help="print the results as JSON")
    q.set_defaults(run=_query)
    n = sub.add_parser("info", help="what an index file holds")
    n.add_argument("index")
    n.set_defaults(run=_info)
    for s in (f, i):
        s.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except (*EXPECTED, ValueError) as exc:  # ValueError: settings argparse cannot check (a k, a shape)
        print(f"ganret {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"ganret {args.command}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    finally:
        distributed.shutdown()
    return 0


def shell(line: str) -> None:
    """Run one `ganret ...` command line in this process, as a terminal would (a book page shows
    the line, then what it prints); a failure raises instead of returning a status."""
    import shlex

    words = shlex.split(line)
    if words[:1] != ["ganret"]:
        raise ValueError(f"not a ganret command line: {line!r}")
    print(f"$ {line}")
    sys.stdout.flush()
    code = main(words[1:])
    if code:
        raise RuntimeError(f"`{line}` failed with exit status {code}")


if __name__ == "__main__":
    sys.exit(main())
