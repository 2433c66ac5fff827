"""Training on several processes: `torchrun --nproc_per_node N ...` runs the one loop data-parallel.

Each process (rank) takes its share of every batch; before any optimiser steps, the gradients of
its parameters are averaged over the ranks (an all-reduce: gloo on the CPU, nccl on GPUs), so
every rank takes the same step and holds the same weights. Batch-norm statistics, which each
rank measures on its own share, are copied from rank 0 after every step, as
DistributedDataParallel's `broadcast_buffers` does. Rank 0 alone writes checkpoints and logs;
every rank resumes from the same checkpoint. With one process nothing here does anything.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def rank_and_world() -> tuple[int, int]:
    """(this process's rank, the number of processes) of a running process group, else (0, 1)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_environment(device: torch.device) -> bool:
    """Join the process group that `torchrun` describes in the environment (WORLD_SIZE > 1);
    False when there is none. Picks nccl for CUDA devices and gloo otherwise."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return True


def is_main() -> bool:
    return rank_and_world()[0] == 0


def barrier() -> None:
    if rank_and_world()[1] > 1:
        dist.barrier()


def average_gradients(optimiser: torch.optim.Optimizer) -> None:
    """Make `optimiser.step()` first average its parameters' gradients over the ranks."""
    _, world = rank_and_world()

    def hook(opt, args, kwargs):
        for group in opt.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                    p.grad.div_(world)

    optimiser.register_step_pre_hook(hook)


def broadcast_from_main(modules, buffers_only: bool = False) -> None:
    """Copy rank 0's buffers (and parameters, unless `buffers_only`) to every rank."""
    for module in modules:
        tensors = list(module.buffers()) + ([] if buffers_only else list(module.parameters()))
        for t in tensors:
            dist.broadcast(t.data, src=0)


def shutdown() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
