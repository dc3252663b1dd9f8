"""Choosing the torch device and seeding every random generator a run touches."""

from __future__ import annotations

import logging
import random
from typing import Literal

import numpy as np
import torch

logger = logging.getLogger(__name__)

DeviceName = Literal["auto", "cpu", "cuda"]


def resolve_device(name: DeviceName | str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else CPU; asking for CUDA without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but torch sees no CUDA GPU; "
                           "set the device to 'auto' or 'cpu', or install a CUDA build of torch")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}; use 'auto', 'cpu' or 'cuda'")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices) so a run can be repeated exactly on CPU."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    logger.debug("seeded python, numpy and torch with %d", seed)


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX).

    Without it bfloat16 matrix products are emulated and slower than float32, so the CPU
    softmax loss only takes bf16 inputs where this is true.
    """
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def use_threads(threads: int) -> None:
    """Let torch run each operation on ``threads`` threads (the ``torch_threads`` setting).

    Called where training and scoring start; it changes the process-wide setting only when it
    differs, so calling it again per task costs nothing. Torch's own default is every core of
    the machine, which oversubscribes a container limited to fewer.
    """
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
        logger.info("torch uses %d threads", threads)
