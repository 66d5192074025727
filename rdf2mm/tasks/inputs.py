"""What both tasks feed the model: message graph, parsed literals, node features.

:func:`prepare_inputs` does the per-dataset work once (graph to nodes and edges, literal
parsing); :func:`make_features` builds fresh trainable node features for each seed.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from rdf2mm.encoding.encoded import EncodedGraph, encode_graph
from rdf2mm.errors import ResourceError
from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.modalities.registry import ModalityMap, get_modality
from rdf2mm.models.mrgcn import MRGCN, LiteralBlock, NodeFeatures
from rdf2mm.models.rgcn import RelationalAdjacency
from rdf2mm.tasks.settings import MIN_REFRESH, ModelSettings, refresh_fraction


@dataclass(repr=False)
class PreparedInputs(EncodedGraph):
    """An :class:`~rdf2mm.encoding.EncodedGraph` as training uses it: per-dataset,
    independent of the seed, with the message-passing adjacency on a device."""

    def adjacency(self, device: torch.device) -> RelationalAdjacency:
        """The message graph's edges for the R-GCN layers (which aggregate as they are set to)."""
        adj = RelationalAdjacency(
            torch.as_tensor(self.mg.edge_index),
            torch.as_tensor(self.mg.edge_type),
            self.mg.num_nodes,
            self.mg.num_relations,
        )
        return adj.to(device)


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ResourceError("--device cuda was asked for, but no CUDA device is available (use --device cpu or auto)")
    return torch.device(name)


def prepare_inputs(
    kg: KnowledgeGraph,
    modalities: str = "all",
    literals: str = "split",
    inverse: bool = True,
    text_encoder: str = "charcnn",
    modality_map: ModalityMap | None = None,
    text_vocab: list[str] | None = None,
    shuffle_seed: int | None = None,
    image_encoder: str = "mobilenet",
) -> PreparedInputs:
    """Build the message graph and parse the literals of the chosen modalities
    (:func:`rdf2mm.encoding.encode_graph`, as ``rdf2mm encode`` does).

    ``text_vocab`` fixes the character vocabulary (a saved run's), so that text is
    indexed exactly as it was in training. ``shuffle_seed`` (``--shuffle-literals``: the
    run's seed) permutes each modality's literals among the literal nodes of their
    predicate (:mod:`rdf2mm.encoding.shuffle`); ``image_encoder`` is the run's
    ``--image-encoder``. (How messages are aggregated is the model's setting:
    ``ModelSettings.aggregation``.)
    """
    enc = encode_graph(kg, modalities=modalities, literals=literals, inverse=inverse, text_encoder=text_encoder,
                       modality_map=modality_map, text_vocab=text_vocab, shuffle_seed=shuffle_seed,
                       image_encoder=image_encoder)
    return PreparedInputs(**{f.name: getattr(enc, f.name) for f in fields(EncodedGraph)})


def make_features(inputs: PreparedInputs, dim: int, encoder_options: dict[str, Any] | None = None) -> NodeFeatures:
    """Fresh node features: entity embeddings, one encoder per modality, and for literal
    nodes whose value is not encoded a learned vector per datatype (split literals) or
    per node (merged literals)."""
    mg, kg, prepared = inputs.mg, inputs.kg, inputs.prepared
    node_literal = mg.node_literal
    lit_nodes = mg.num_entities + np.arange(len(node_literal), dtype=np.int64)
    encoded = np.zeros(len(node_literal), dtype=bool)
    blocks: list[LiteralBlock] = []
    for name in inputs.modalities:
        md = prepared.data.get(name)
        if md is None:
            continue
        valid_ids = md.literal_ids[md.parsed.valid]
        if len(valid_ids) == 0:
            continue
        # Row of each literal id within the parsed arrays.
        row_of = np.full(kg.num_literals, -1, dtype=np.int64)
        row_of[md.literal_ids] = np.arange(len(md.literal_ids))
        mask = np.zeros(kg.num_literals, dtype=bool)
        mask[valid_ids] = True
        take = mask[node_literal] & ~encoded
        if not take.any():
            continue
        encoded |= take
        rows = row_of[node_literal[take]]
        # Encode only the distinct rows the nodes use.
        uniq, local = np.unique(rows, return_inverse=True)
        if len(uniq) == len(md.parsed.data) and md.parsed.data.flags.c_contiguous and md.parsed.data.flags.writeable:
            # Every parsed row is used (the usual case): share the array, do not copy it
            # (at 10^7 triples the literal arrays are gigabytes).
            data = torch.from_numpy(md.parsed.data)
        else:
            data = torch.as_tensor(np.ascontiguousarray(md.parsed.data[uniq]))
        encoder = get_modality(name, **inputs.modality_options.get(name, {})).make_encoder(
            md.parsed, dim, **(encoder_options or {}).get(name, {})
        )
        blocks.append(
            LiteralBlock(
                modality=name,
                nodes=torch.as_tensor(lit_nodes[take]),
                rows=torch.as_tensor(local.astype(np.int64)),
                data=data,
                encoder=encoder,
            )
        )
    plain = ~encoded
    codes = kg.literal_datatype[node_literal[plain]].astype(np.int64)
    num_codes = len(kg.datatypes)
    if mg.literals == "merged":
        # A merged literal node is one value shared by every entity that has it: like an
        # entity, it gets a learned vector of its own (R-GCN's featureless treatment), so
        # "true" and "false" are told apart even when their values are not encoded.
        codes = num_codes + np.arange(int(plain.sum()), dtype=np.int64)
        num_codes += int(plain.sum())
    return NodeFeatures(
        num_nodes=mg.num_nodes,
        num_entities=mg.num_entities,
        dim=dim,
        blocks=blocks,
        plain_nodes=torch.as_tensor(lit_nodes[plain]),
        plain_codes=torch.as_tensor(codes),
        num_plain_codes=num_codes,
    )


def default_bases(num_relations: int) -> int | None:
    """Basis decomposition only pays off with many relations (MR-GCN uses 30-40)."""
    return 30 if num_relations > 40 else None


def build_encoder(inputs: PreparedInputs, s: ModelSettings, out_dim: int) -> MRGCN:
    """Fresh node features and R-GCN layers aggregating as ``s.aggregation``; ``bases`` None
    picks the default, 0 disables it."""
    bases = default_bases(inputs.mg.num_relations) if s.bases is None else (s.bases or None)
    features = make_features(inputs, s.embed_dim)
    features.set_refresh(refresh_fraction(s.encoder_refresh), MIN_REFRESH)
    return MRGCN(
        features,
        num_relations=inputs.mg.num_relations,
        hidden=s.hidden,
        out_dim=out_dim,
        num_layers=s.layers,
        num_bases=bases,
        num_blocks=s.blocks,
        dropout=s.dropout,
        self_loop=s.self_loops,
        entity_dropout=s.entity_dropout,
        aggr=s.aggregation,  # type: ignore[arg-type]
    )

