"""PyTorch Geometric interop: an encoded graph as ``Data`` or ``HeteroData``, saved safely.

``Data`` (the default) is what ``RGCNConv`` / ``FastRGCNConv`` take::

    edge_index [2, M], edge_type [M]      relation names in data.relation_names
    node_type [N]                         index into data.node_type_names:
                                          entity, numeric, ..., boolean, literal
    node_literal [N]                      literal id per node (-1 for entities)
    <modality>_x [n_m, ...]               parsed literal tensor per encoded node
    <modality>_index [n_m]                which nodes those rows belong to
    modality_meta                         per modality, what its encoder needs

``HeteroData`` has one node type per entry of ``node_type_names`` that occurs, each
literal type carrying its tensor as ``x``, and edge types ``(src, "r<t>", dst)`` where
``t`` indexes ``relation_names`` (IRIs are not used as keys: PyG's ``to_hetero`` and
``HeteroConv`` build module names from them, which may not contain dots).

Saving writes plain tensors to one safetensors file and the structure (which tensor is
which attribute of which store, plus small JSON values) to its header, so
:func:`load_pyg` rebuilds the object without unpickling anything: a file carrying a
pickle payload is refused as malformed, never run. The conversion and the file format
live in :mod:`rdf2mm.encoding.pyg_data` (the encode writer needs them); this module is
their public face.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from rdf2mm.encoding.encoded import EncodedGraph, encode_graph
from rdf2mm.encoding.pyg_data import HEADER_KEY, PYG_FORMAT_VERSION, load_pyg, save_pyg, to_data
from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.modalities.base import ParsedLiterals
from rdf2mm.modalities.registry import get_modality

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn
    from torch_geometric.data import Data, HeteroData

__all__ = ["HEADER_KEY", "PYG_FORMAT_VERSION", "literal_encoders", "load_pyg", "save_pyg", "to_pyg"]


def to_pyg(graph: KnowledgeGraph | EncodedGraph, *, hetero: bool = False, **options: Any) -> Data | HeteroData:
    """``graph`` as a torch-geometric object; ``options`` are :func:`rdf2mm.encoding.encode_graph`'s."""
    enc = graph if isinstance(graph, EncodedGraph) else encode_graph(graph, **options)
    if isinstance(graph, EncodedGraph) and options:
        raise TypeError("encoding options apply to a KnowledgeGraph, not to an already encoded graph")
    return to_data(enc, hetero=hetero)


def literal_encoders(data: Data | HeteroData, dim: int, **options: dict[str, Any]) -> nn.ModuleDict:
    """rdf2mm's encoder per modality present in ``data``, as plain torch modules.

    Each maps that modality's tensor (``data[f"{m}_x"]``, or ``data[m].x`` for hetero)
    to ``[n, dim]``. ``options`` gives per-modality encoder keyword options.
    """
    from torch import nn

    encoders = nn.ModuleDict()
    for name, meta in dict(data.modality_meta).items():
        init = {"encoder": meta.get("encoder", "charcnn")} if name == "textual" else {}
        parsed = ParsedLiterals(data=np.zeros((0,)), valid=np.zeros(0, bool), meta=meta)
        encoders[name] = get_modality(name, **init).make_encoder(parsed, dim, **options.get(name, {}))
    return encoders
