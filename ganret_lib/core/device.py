"""Where networks run: `device="auto"` is CUDA when available, else the CPU (the reference).

Every function of the library that runs a network takes `device` and resolves it here. Random
draws stay on the CPU (torch.Generator) and are moved to the device, so CPU results are
bit-identical to what they were before devices existed, and GPU runs draw the same numbers.
"""
from __future__ import annotations

from collections.abc import Callable

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" -> cuda if available else cpu; anything else is checked and returned as a device."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} was asked for but CUDA is not available here; "
                         "use device='auto' or 'cpu'")
    return device


@torch.no_grad()
def map_batches(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch_size: int,
                device: str | torch.device = "auto") -> torch.Tensor:
    """fn applied to `x` batch by batch on `device`; the result concatenated on the CPU."""
    device = resolve_device(device)
    return torch.cat([fn(x[lo:lo + batch_size].to(device)).cpu() for lo in range(0, len(x), batch_size)])


def describe(device: str | torch.device = "auto") -> str:
    """One line for a chapter to print: where its networks run, e.g. "cuda:0 (Tesla T4)" or "cpu (2 threads)"."""
    device = resolve_device(device)
    if device.type == "cuda":
        return f"{device.type}:{device.index or 0} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
