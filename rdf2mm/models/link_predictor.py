"""The link-prediction model: an MR-GCN encoder whose entity outputs a triple decoder scores."""
from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor, nn

from rdf2mm.models.decoders import Decoder

if TYPE_CHECKING:
    from rdf2mm.models.mrgcn import MRGCN
    from rdf2mm.models.rgcn import RelationalAdjacency


class LinkPredictor(nn.Module):
    """MR-GCN encoder + decoder; ``forward`` returns the entity embeddings ``[E, d]``."""

    def __init__(self, encoder: MRGCN, decoder: Decoder, num_entities: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.num_entities = num_entities

    def forward(self, adj: RelationalAdjacency, nodes: Tensor | None = None) -> Tensor:
        """Entity embeddings ``[E, d]``; with ``nodes`` (a mini-batch subgraph, entities
        first) the outputs of every local node."""
        if nodes is not None:
            return self.encoder(adj, nodes=nodes)
        return self.encoder(adj)[: self.num_entities]
