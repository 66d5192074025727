"""Frozen entity-level literal features as a model holds them: per modality, the values
``[E, P, D]`` of :class:`rdf2mm.encoding.entity_features.ModalityFeatures` (the mean
frozen feature of an entity's literals of each predicate) and the mask ``[E, P]``.

The literal KGE models (:mod:`rdf2mm.models.literale`, :mod:`rdf2mm.models.vlkge`) keep
them as *non-persistent* buffers: they move with the model to its device but are not
written to ``model.safetensors`` nor to checkpoints. A saved run is rebuilt by computing
them again from the same graph (the features are frozen and deterministic: MiniLM and
EfficientNet-Lite0 in eval mode, cached by content hash), so a run directory holds only
what training learned.

Each predicate's feature columns are standardised over the entities that have it, so
384-d MiniLM and 1280-d EfficientNet features enter a learned layer at the same scale as
a standardised number; absent cells stay exactly 0 (LiteralE's "missing = 0").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from rdf2mm.errors import UsageError

if TYPE_CHECKING:
    from rdf2mm.encoding.entity_features import EntityFeatures


@dataclass(frozen=True)
class Block:
    """One modality as a model reads it: its name, predicates (columns) and feature width."""

    modality: str
    predicates: tuple[str, ...]
    dim: int


def standardise(values: Tensor, mask: Tensor) -> Tensor:
    """``values`` ``[E, P, D]`` with each predicate's ``D`` columns at mean 0 and standard
    deviation 1 over the entities ``mask`` ``[E, P]`` marks for that predicate (a constant
    column is only centred); cells outside the mask are 0."""
    values = values.float()
    weight = mask.unsqueeze(-1).to(values.dtype)  # [E, P, 1]
    count = weight.sum(0).clamp(min=1)  # [P, 1]
    mean = (values * weight).sum(0) / count  # [P, D]
    var = (((values - mean) * weight) ** 2).sum(0) / count
    std = var.sqrt()
    std = torch.where(std > 1e-6, std, torch.ones_like(std))
    return (values - mean) / std * weight


class FrozenFeatures(nn.Module):
    """The modalities of ``features`` that any entity has, as buffers ``values_<m>``
    ``[E, P, D]`` (standardised, 0 where absent) and ``mask_<m>`` ``[E, P]`` (bool);
    no parameters. ``modalities`` (None: all of them) picks and orders the ones kept.

    An :class:`~rdf2mm.errors.UsageError` says so when none is left: a literal KGE model
    on a graph without those literals would be its plain KGE decoder, under another name.
    """

    def __init__(self, features: EntityFeatures, num_entities: int, model: str,
                 modalities: tuple[str, ...] | None = None) -> None:
        super().__init__()
        if features.num_entities != num_entities:
            raise ValueError(f"the entity features cover {features.num_entities} entities, the graph has {num_entities}")
        names = tuple(features.modalities) if modalities is None else tuple(m for m in modalities if m in features.modalities)
        blocks = []
        for name in names:
            mf = features.modalities[name]
            mask = torch.as_tensor(mf.mask, dtype=torch.bool)
            values = torch.as_tensor(mf.values)
            if values.dim() != 3 or tuple(mask.shape) != tuple(values.shape[:2]) or values.shape[0] != num_entities:
                raise ValueError(f"{name} features: values {tuple(values.shape)} and mask {tuple(mask.shape)} "
                                 f"do not fit {num_entities} entities")
            if values.shape[1] == 0 or values.shape[2] == 0 or not bool(mask.any()):
                continue  # nobody has it: nothing to read
            self.register_buffer(f"values_{name}", standardise(values, mask), persistent=False)
            self.register_buffer(f"mask_{name}", mask, persistent=False)
            blocks.append(Block(name, tuple(mf.predicates), int(values.shape[2])))
        if not blocks:
            asked = ", ".join(names) if names else "none"
            raise UsageError(f"--model {model} reads the entities' literals, but no entity has a literal of the "
                             f"modalities asked for (the graph's modalities with entity features: {asked}); "
                             "check --modalities, or train a plain KGE model (--model distmult)")
        #: the modalities kept, in order, with their predicates and feature widths
        self.blocks: tuple[Block, ...] = tuple(blocks)

    def values(self, modality: str, nodes: Tensor | None = None) -> Tensor:
        """``[E, P, D]`` (or the rows of ``nodes``) of ``modality``."""
        v: Tensor = getattr(self, f"values_{modality}")
        return v if nodes is None else v[nodes]

    def mask(self, modality: str, nodes: Tensor | None = None) -> Tensor:
        """``[E, P]`` bool (or the rows of ``nodes``) of ``modality``."""
        m: Tensor = getattr(self, f"mask_{modality}")
        return m if nodes is None else m[nodes]

    def describe(self) -> dict[str, dict[str, int]]:
        """Per modality kept: predicates, feature width and entities that have it."""
        return {b.modality: {"predicates": len(b.predicates), "dim": b.dim,
                             "entities": int(self.mask(b.modality).any(1).sum())} for b in self.blocks}
