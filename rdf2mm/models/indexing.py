"""Row gathers whose backward is fast on CPU.

``table[index]`` (and ``nn.functional.embedding``) differentiate through
``index_put_(accumulate=True)``, which on a multi-threaded CPU is several times slower
than ``index_add_``: gathering 140k rows of 64 from a 14.5k-row table and back took
34 ms against 6 ms on 2 threads (``bench`` figures in CHANGELOG, issue 19). Link
prediction gathers that many rows every step (the heads, tails and corruptions of a
batch, and their relations), so the training losses and the decoders use
:func:`gather_rows`. The gradient is the same sum; rows are added in index order, so it
is deterministic run to run.
"""
from __future__ import annotations

import torch
from torch import Tensor


class _GatherRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx, table: Tensor, index: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(index)
        ctx.rows = table.shape[0]
        return table.index_select(0, index)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        (index,) = ctx.saved_tensors
        out = grad.new_zeros((ctx.rows, *grad.shape[1:]))
        return out.index_add_(0, index, grad.contiguous()), None


def gather_rows(table: Tensor, index: Tensor) -> Tensor:
    """``table[index]`` for a 1-D integer ``index``, with an ``index_add_`` backward."""
    if not (torch.is_grad_enabled() and table.requires_grad):
        return table.index_select(0, index.reshape(-1)).reshape(*index.shape, *table.shape[1:])
    flat = index.reshape(-1)
    return _GatherRows.apply(table, flat).reshape(*index.shape, *table.shape[1:])
