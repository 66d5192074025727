"""Seeds and deterministic kernels: what makes a fixed-seed CPU run repeat bit for bit."""
from __future__ import annotations

import contextlib
import random
from typing import Iterator

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Fix Python, NumPy and torch RNGs (results are reproducible on CPU)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def deterministic_mode(enabled: bool) -> Iterator[None]:
    """With ``enabled``, bit-exact CPU results whatever the thread count: torch's
    deterministic algorithms and one intra-op thread, since the parallel reductions
    split their sums by thread count (1 and 2 threads differ in the 4th digit of the
    loss). Both settings are restored afterwards."""
    if not enabled:
        yield
        return
    threads, was = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    # warn_only: a CUDA op without a deterministic kernel warns instead of failing; the
    # bit-exact promise is for CPU runs (see the README's Reproducibility).
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(was)
