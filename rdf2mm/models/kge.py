"""Plain knowledge-graph-embedding baselines: an entity embedding table scored by a triple
decoder, with no literals and no graph encoder (``--model transe|distmult|complex|rotate|tucker``).

These are the baselines every literal method has to beat on the same split and budget
(see the design note on the field's methods). A :class:`PlainKGE` is a link predictor
like :class:`rdf2mm.models.link_predictor.LinkPredictor`: ``forward(adj)`` returns the
entity embeddings ``[E, d]`` and ``decoder`` scores them, so training, ranking, the run
directory and ``predict`` treat both alike; it merely ignores the graph it is handed.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from torch import Tensor, nn

from rdf2mm.models.decoders import Decoder, make_decoder

if TYPE_CHECKING:
    from rdf2mm.models.rgcn import RelationalAdjacency


class PlainKGE(nn.Module):
    """Entity table ``entity`` (``[E, dim]``, Xavier-uniform as PyKEEN initialises its
    TransE and RotatE) and the decoder of the model's name; its only parameters."""

    #: the decoder of :data:`rdf2mm.models.registry.DECODERS` that scores the table
    decoder_name: ClassVar[str] = ""

    def __init__(self, num_entities: int, num_relations: int, dim: int) -> None:
        super().__init__()
        self.entity = nn.Embedding(num_entities, dim)
        nn.init.xavier_uniform_(self.entity.weight)
        self.decoder: Decoder = make_decoder(self.decoder_name, num_relations, dim)
        self.num_entities = num_entities

    def forward(self, adj: RelationalAdjacency | None = None, nodes: Tensor | None = None) -> Tensor:
        """The entity embeddings ``[E, d]`` (``adj`` is not read: there is no message passing);
        with ``nodes``, their rows."""
        if nodes is not None:
            return self.entity(nodes)
        return self.entity.weight


class TransEModel(PlainKGE):
    """Plain TransE: ``-||h + r - t||_1``."""

    decoder_name = "transe"


class DistMultModel(PlainKGE):
    """Plain DistMult: ``<h, r, t>``."""

    decoder_name = "distmult"


class ComplExModel(PlainKGE):
    """Plain ComplEx: ``Re(<h, r, conj(t)>)``."""

    decoder_name = "complex"


class RotatEModel(PlainKGE):
    """Plain RotatE: ``-||h o r - t||`` with ``|r| = 1``."""

    decoder_name = "rotate"


class TuckERModel(PlainKGE):
    """Plain TuckER: a shared core tensor."""

    decoder_name = "tucker"
