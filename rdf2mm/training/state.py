"""Training state that must survive: copied best weights, and every RNG a run draws from."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


def copy_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """A real copy of the model's weights: a ``state_dict`` holds references to the live
    tensors, which the next optimiser step would change under the "best" weights."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def restore_global_rngs(saved: dict[str, Any]) -> None:
    """Put back the torch CPU RNG and, when the checkpoint holds one and CUDA is here,
    every CUDA device's RNG, as :meth:`TrainingCheckpoint.load_progress` read them."""
    torch.set_rng_state(saved["rng_torch"])
    if saved.get("rng_cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["rng_cuda"])
