"""DCGAN training throughput: the library's trainer against a minimal hand-written loop, and the
achieved FLOP/s of a training step against the same run's float32 matrix-product FLOP/s.

    .venv/bin/python benchmarks/bench_train.py [--width 32] [--batch 128] [--steps 30] [--repeats 3]

Every variant runs in this one process, alternately, `repeats` times; medians are printed.
FLOPs per step are counted with torch.utils.flop_counter (convolutions and matrix products).
"""
import argparse
import statistics
import tempfile
import time

import torch

from ganret_lib.core import runs
from ganret_lib.core.loop import FitConfig
from ganret_lib.gan import dcgan, losses, models


def matmul_flops_per_s(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def hand_written(cfg, images, batch, channels_last=False):
    """The shortest correct loop: what the trainer must not be slower than. Returns run(n_steps)."""
    G, D = models.build_dcgan(cfg)
    if channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def run(n_steps):
        for i in range(n_steps):
            real = images[(i * batch) % (len(images) - batch):][:batch]
            fake = G(torch.randn(batch, cfg.nz))
            loss_d = losses.d_loss(D(real), D(fake.detach()))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            loss_g = losses.g_loss(D(fake))
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
    return run


def library_trainer(cfg, images, batch, channels_last=True):
    """The library's loop with its logging (every 25 steps) and throughput hook on; checkpoints and
    samples out of the way."""
    fit_cfg = FitConfig(steps=10**6, batch_size=batch, checkpoint_every=10**6)
    gan_cfg = dcgan.GANConfig(sample_every=10**6, channels_last=channels_last)
    fitter = dcgan.dcgan_fitter("bench", cfg, gan_cfg, fit_cfg, images, device="cpu", until=0,
                                folder=tempfile.mkdtemp(), progress=False)
    return lambda n_steps: fitter.fit(until=fitter.step + n_steps, progress=False)


def images_per_s(run, batch, steps):
    run(2)  # warm-up
    start = time.perf_counter()
    run(steps)
    return steps * batch / (time.perf_counter() - start)


def flops_per_step(cfg, images, batch) -> int:
    from torch.utils.flop_counter import FlopCounterMode
    run = hand_written(cfg, images, batch)
    with FlopCounterMode(display=False) as counter:
        run(1)
    return counter.get_total_flops()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=32, help="ngf = ndf")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    runs.seed_everything(0, threads=args.threads)
    cfg = models.DCGANConfig(ngf=args.width, ndf=args.width)
    images = torch.rand(4096, 1, 32, 32) * 2 - 1

    variants = {
        "hand-written loop (NCHW)": lambda: hand_written(cfg, images, args.batch),
        "library trainer (NCHW)": lambda: library_trainer(cfg, images, args.batch, channels_last=False),
        "hand-written loop (channels_last)": lambda: hand_written(cfg, images, args.batch, channels_last=True),
        "library trainer (channels_last)": lambda: library_trainer(cfg, images, args.batch),
    }
    results = {name: [] for name in variants}
    matmul = []
    for _ in range(args.repeats):
        matmul.append(matmul_flops_per_s())
        for name, make in variants.items():
            results[name].append(images_per_s(make(), args.batch, args.steps))
    flops = flops_per_step(cfg, images, args.batch)
    peak = statistics.median(matmul)
    print(f"DCGAN ngf=ndf={args.width}, batch {args.batch}, {args.threads} threads; "
          f"{flops / 1e9:.2f} GFLOP per training step; float32 matmul {peak / 1e9:.0f} GFLOP/s (median)")
    base = statistics.median(results["hand-written loop (NCHW)"])
    for name, values in results.items():
        ips = statistics.median(values)
        achieved = flops * ips / args.batch
        layout = name[name.index("("):]
        same_layout = statistics.median(results[f"hand-written loop {layout}"])
        print(f"  {name:36s} {ips:6.0f} images/s  x{ips / base:4.2f} of NCHW hand loop  "
              f"x{ips / same_layout:4.2f} of same-layout hand loop  {achieved / peak:.2f} of matmul FLOP/s")

if __name__ == "__main__":
    main()
