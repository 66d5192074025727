"""Encode a graph without training: integer-coded edges, vocabularies, literal tensors.

This is what ``rdf2mm encode`` writes, for users who bring their own model, and the
input side of ``rdf2mm train`` (same options, same message graph, same literal parsing),
stopped before any model exists.

Nodes ``0..E-1`` are entities (ids into ``entities.parquet``); nodes ``E..N-1`` are
literal nodes, ``node_literal[n - E]`` being the id into ``literals.parquet``. Relation
``t`` of an edge is row ``t`` of ``relations.parquet``.

Modules, bottom up: :mod:`~rdf2mm.encoding.options` (options, node types, the interface
the writers read), :mod:`~rdf2mm.encoding.pyg_data` (torch-geometric objects and their
safe file format), :mod:`~rdf2mm.encoding.files` (the output folder: writing, loading),
:mod:`~rdf2mm.encoding.encoded` (:class:`EncodedGraph`, :func:`encode_graph`,
:func:`encode`).
"""
from __future__ import annotations

from rdf2mm.encoding.encoded import EncodedGraph, encode, encode_graph
from rdf2mm.encoding.files import EncodedFiles, build_manifest, load_encoded, write_encoded, write_vocabularies
from rdf2mm.encoding.options import (
    FORMAT_NAME,
    FORMAT_VERSION,
    LITERAL_TYPE,
    NODE_TYPES,
    OUTPUTS,
    TEXT_ENCODERS,
    EncodeOptions,
    StageHook,
)

__all__ = [
    "FORMAT_NAME", "FORMAT_VERSION", "LITERAL_TYPE", "NODE_TYPES", "OUTPUTS", "TEXT_ENCODERS",
    "EncodeOptions", "EncodedFiles", "EncodedGraph", "StageHook",
    "build_manifest", "encode", "encode_graph", "load_encoded", "write_encoded", "write_vocabularies",
]
