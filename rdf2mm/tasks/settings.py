"""Model and optimiser settings shared by the tasks (light: no torch or modality imports)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rdf2mm.errors import DivergedError


@dataclass
class ModelSettings:
    """The MR-GCN encoder and optimiser settings both tasks share (from a resolved TrainConfig)."""

    embed_dim: int = 32
    hidden: int = 32
    layers: int = 2
    bases: int | None = None
    blocks: int | None = None
    dropout: float = 0.2
    entity_dropout: float = 0.0
    lr: float = 0.01
    weight_decay: float = 5e-4
    epochs: int = 200
    patience: int = 30
    clip: float = 1.0
    amp: bool = True
    self_loops: bool = True
    #: how the R-GCN layers combine a node's messages per relation: "mean" or "sum"
    #: (node classification's "auto" is resolved per candidate before a model is built)
    aggregation: str = "mean"

    def check_loss(self, loss: float, seed: int, epoch: int) -> None:
        """Stop a seed whose training loss is no longer a number: its weights are garbage
        and must not be written as a result."""
        if not math.isfinite(loss):
            raise DivergedError(f"training diverged: seed {seed}, epoch {epoch}: the training loss is {loss}; "
                            f"nothing was written (try a lower --lr than {self.lr:g})")

    @classmethod
    def from_config(cls, cfg: Any) -> Any:
        # Unset (None) config values keep the settings' own defaults.
        return cls(**{k: getattr(cfg, k) for k in cls.__dataclass_fields__ if getattr(cfg, k, None) is not None})
