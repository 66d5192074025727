"""Model and optimiser settings shared by the tasks (light: no torch or modality imports)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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

    @classmethod
    def from_config(cls, cfg: Any) -> Any:
        # Unset (None) config values keep the settings' own defaults.
        return cls(**{k: getattr(cfg, k) for k in cls.__dataclass_fields__ if getattr(cfg, k, None) is not None})
