"""MoSE (Zhao et al., EMNLP 2022, "Modality Split and Ensemble for Multimodal Knowledge
Graph Completion").

Modality split: the structure and every literal modality the graph has (image, text, and
numeric, temporal, spatial, boolean where present) get their own entity embeddings and
their own relation embeddings, and one KGE score each (the ``--decoder``, DistMult by
default). Structure embeddings are a table; a literal modality's are a learned map of the
entity's frozen features, with a vector of its own for an entity that lacks the modality
(:mod:`rdf2mm.models.modality_inputs`). Training: each modality's score is trained on its
own (the loss is summed over the modalities, :meth:`PartsDecoder.loss_parts`), so one
modality's relations never bend another's, which is the paper's point.

Ensemble at inference (``--ensemble``): ``mean``, equal weights (MoSE-AI), or ``fitted``,
weights per relation fitted on the validation split once training ends (MoSE-BI's
relation-specific weights; see :mod:`rdf2mm.models.ensemble`). Validation during training
(early stopping) ranks with the mean. Not included: the paper's confidence-constraint
temperatures and its meta-learner (MoSE-MI).

``forward()`` returns the modalities' embeddings side by side, ``[E, P * dim]``, structure first.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

from rdf2mm.models.decoders import make_decoder
from rdf2mm.models.ensemble import PartsDecoder
from rdf2mm.models.modality_inputs import ModalityEmbedding, present_modalities, structure_table

if TYPE_CHECKING:
    from rdf2mm.encoding.entity_features import EntityFeatures
    from rdf2mm.models.rgcn import RelationalAdjacency
    from rdf2mm.tasks.evaluation import FilterIndex
    from rdf2mm.tasks.settings import LPSettings

#: the name of the structure part
STRUCTURE = "structure"


class MoSE(nn.Module):
    """A structure table and one :class:`ModalityEmbedding` per literal modality, scored by
    a :class:`PartsDecoder` of one ``decoder`` per modality (see the module docstring)."""

    def __init__(self, features: EntityFeatures | None, num_entities: int, num_relations: int, dim: int,
                 decoder: str = "distmult", ensemble: str = "mean") -> None:
        super().__init__()
        names = present_modalities(features) if features is not None else ()
        self.structure = structure_table(num_entities, dim)
        self.literal = nn.ModuleList([ModalityEmbedding(features.modalities[n], dim) for n in names]) \
            if features is not None else nn.ModuleList()
        #: the parts, structure first
        self.modalities = (STRUCTURE, *names)
        P = len(self.modalities)
        self.decoder = PartsDecoder(
            [make_decoder(decoder, num_relations, dim) for _ in range(P)],
            [slice(p * dim, (p + 1) * dim) for p in range(P)], num_relations, P * dim, self.modalities,
            train_parts=True, initial=1.0 / P,
        )
        self.ensemble = ensemble
        self.num_entities = num_entities

    @classmethod
    def from_features(cls, features: EntityFeatures, num_entities: int, num_relations: int,
                      settings: LPSettings) -> MoSE:
        """MoSE on every modality ``features`` has, ``settings.decoder`` per modality."""
        return cls(features, num_entities, num_relations, settings.embed_dim, settings.decoder,
                   getattr(settings, "ensemble", "mean"))

    def forward(self, adj: RelationalAdjacency | None = None, nodes: Tensor | None = None) -> Tensor:
        """``[E, P * dim]``: every modality's entity embeddings (``adj`` is not read); with ``nodes``, their rows."""
        out = torch.cat([self.structure.weight, *(m() for m in self.literal)], dim=1)
        return out if nodes is None else out[nodes]

    def fit_ensemble(self, emb: Tensor, valid: np.ndarray, index: FilterIndex, budget: int,
                     seed: int) -> dict[str, float]:
        """With ``ensemble="fitted"``, fit the inference weights on the validation triples
        (called once with the best weights, by the training loop's finish); else nothing."""
        if self.ensemble != "fitted" or len(self.modalities) < 2:
            return {}
        return self.decoder.fit_weights(emb, valid, index, budget, seed)
