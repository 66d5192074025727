"""Multi-process data-parallel training on torch.distributed (launched with ``torchrun``).

``torchrun --nproc-per-node 2 -m rdf2mm train ...`` starts one process per worker with
``RANK``/``WORLD_SIZE`` set; :func:`from_environment` joins them into a process group
(gloo on CPU, nccl on CUDA). Each process trains on its share of every epoch's batches
and :class:`~torch.nn.parallel.DistributedDataParallel` averages the gradients, so all
processes hold the same weights after every step; evaluation is split across processes
and summed. Only rank 0 writes the run directory.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Workers:
    """This process's place among the data-parallel workers (one worker: no-ops)."""

    rank: int = 0
    world: int = 1

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_reduce(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over the workers, in place; returns it."""
        if self.active:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def any(self, flag: bool) -> bool:
        """True on every worker when ``flag`` is true on any of them (e.g. a stop signal)."""
        if not self.active:
            return flag
        t = torch.tensor([1.0 if flag else 0.0])
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """The model in DistributedDataParallel when there are several workers (every
        parameter gets a gradient every step: see ``NodeFeatures.forward``)."""
        if not self.active:
            return model
        ids = [device.index] if device.type == "cuda" and device.index is not None else None
        # The buffers are the graph's data (literal arrays, node maps), built identically by
        # every process from the same input: broadcasting them would copy gigabytes at start
        # and fails on gloo for int16 arrays. Only the parameters need to agree.
        nn.parallel.DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(
            model, [name for name, _ in model.named_buffers()]
        )
        return nn.parallel.DistributedDataParallel(model, device_ids=ids, broadcast_buffers=False)

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def world_size() -> int:
    """Workers torchrun started (1 when not launched by torchrun)."""
    try:
        return max(int(os.environ.get("WORLD_SIZE", "1")), 1)
    except ValueError:
        return 1


def from_environment(device: torch.device) -> Workers:
    """Join the process group torchrun set up; a single process gets ``Workers()``."""
    if world_size() <= 1:
        return Workers()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Workers(dist.get_rank(), dist.get_world_size())


def local_device(device: torch.device) -> torch.device:
    """With several workers on CUDA, each takes the GPU of its ``LOCAL_RANK``."""
    if device.type == "cuda" and world_size() > 1 and device.index is None:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device
