"""The encoded graph: message graph plus parsed literal arrays, built by one function.

:func:`encode_graph` is the input side of both ``rdf2mm train`` (through
:func:`rdf2mm.tasks.inputs.prepare_inputs`) and ``rdf2mm encode``: the same message
graph, the same literal parsing, stopped before any model exists. :func:`encode` adds
reading the sources and writing the output folder.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rdf2mm.encoding.files import check_target, write_encoded
from rdf2mm.encoding.options import LITERAL_TYPE, NODE_TYPES, OUTPUTS, EncodeOptions, StageHook, stage
from rdf2mm.encoding.pyg_data import to_data
from rdf2mm.errors import InputError, UsageError
from rdf2mm.graph.ingest import read_graph
from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.graph.message_graph import MessageGraph, build_message_graph
from rdf2mm.encoding.shuffle import shuffled_literal_edges
from rdf2mm.modalities.preprocess import MODALITY_CODES, PreparedLiterals, infer_modalities, prepare_literals
from rdf2mm.modalities.registry import MODALITY_NAMES, ModalityMap, parse_modalities_option


@dataclass
class EncodedGraph:
    """A graph turned into model inputs: message graph plus parsed literal arrays."""

    kg: KnowledgeGraph
    mg: MessageGraph
    prepared: PreparedLiterals
    options: EncodeOptions
    #: the edges as exported: the message graph's, plus self-loops when asked for
    edge_index: np.ndarray
    edge_type: np.ndarray
    relation_names: list[str]
    #: the modalities asked for, in canonical order (whether the graph has them or not);
    #: :attr:`encoded_modalities` are those with parsed literals
    modalities: tuple[str, ...] = ()
    #: constructor options per modality (the text encoder, a saved run's character vocabulary)
    modality_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    fingerprint: str | None = None
    #: the seed of the shuffled-literal control, or None (see :mod:`rdf2mm.encoding.shuffle`)
    shuffle_seed: int | None = None
    #: seconds per stage
    timings: dict[str, float] = field(default_factory=dict)
    #: set once written (see :meth:`write`)
    manifest: dict[str, Any] | None = None
    #: the folder it was written to (see :meth:`write`)
    written_to: str | None = None

    def __repr__(self) -> str:
        # The default dataclass repr would print every array: thousands of lines.
        mods = ", ".join(f"{m} {len(self.prepared.data[m].parsed)}" for m in self.encoded_modalities) or "none"
        where = f", written to {self.written_to}" if self.written_to else ""
        return (f"{type(self).__name__}(nodes={self.num_nodes}, entities={self.num_entities}, "
                f"literal_nodes={self.num_nodes - self.num_entities}, edges={self.edge_index.shape[1]}, "
                f"relations={len(self.relation_names)}, literals={self.options.literals!r}, "
                f"modalities=[{mods}]{where})")

    @property
    def num_nodes(self) -> int:
        return self.mg.num_nodes

    @property
    def num_entities(self) -> int:
        return self.mg.num_entities

    @property
    def encoded_modalities(self) -> tuple[str, ...]:
        """Modalities that have parsed literals among the graph's literal nodes."""
        return tuple(m for m in MODALITY_NAMES if m in self.prepared.data)

    def node_type(self) -> np.ndarray:
        """int8 [N]: index into :data:`NODE_TYPES` per node."""
        kg, mg = self.kg, self.mg
        per_literal = np.full(kg.num_literals, LITERAL_TYPE, dtype=np.int8)
        for name, md in self.prepared.data.items():
            per_literal[md.literal_ids[md.parsed.valid]] = NODE_TYPES.index(name)
        out = np.zeros(mg.num_nodes, dtype=np.int8)
        out[mg.num_entities :] = per_literal[mg.node_literal]
        return out

    def modality_nodes(self, name: str, node_type: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(node ids, row in ``prepared.data[name].parsed.data``) of the nodes a modality encodes."""
        md = self.prepared.data[name]
        node_type = self.node_type() if node_type is None else node_type
        nodes = np.flatnonzero(node_type == NODE_TYPES.index(name)).astype(np.int64)
        row_of = np.full(self.kg.num_literals, -1, dtype=np.int64)
        row_of[md.literal_ids] = np.arange(len(md.literal_ids), dtype=np.int64)
        rows = row_of[self.mg.node_literal[nodes - self.mg.num_entities]]
        return nodes, rows

    def write(
        self, out: str | Path, to: str = "files", overwrite: bool = False, hetero: bool = False,
        on_stage: StageHook | None = None, force: bool = False,
    ) -> dict[str, Any]:
        """Write the output folder (atomically); returns and keeps the manifest."""
        return write_encoded(self, out, to=to, overwrite=overwrite, hetero=hetero, on_stage=on_stage, force=force)

    def to_pyg(self, hetero: bool = False) -> Any:
        """A torch-geometric ``Data`` (``edge_type`` per edge) or ``HeteroData``."""
        return to_data(self, hetero=hetero)


# ------------------------------------------------------------------ building


def _modality_map(value: str | Path | ModalityMap | None) -> tuple[ModalityMap | None, str | None]:
    if value is None or isinstance(value, ModalityMap):
        return value, None
    return ModalityMap.from_toml(value), str(value)


def encode_graph(
    kg: KnowledgeGraph,
    *,
    modalities: str | Sequence[str] = "all",
    literals: str = "split",
    inverse: bool = True,
    self_loops: bool = False,
    text_encoder: str = "charcnn",
    modality_map: str | Path | ModalityMap | None = None,
    text_vocab: list[str] | None = None,
    on_stage: StageHook | None = None,
    shuffle_seed: int | None = None,
    image_encoder: str = "mobilenet",
) -> EncodedGraph:
    """Message graph and parsed literals of ``kg``, as ``rdf2mm train`` builds them.

    Only the literals that become nodes are parsed (none with ``literals="none"``).
    ``text_vocab`` fixes the character vocabulary (a saved run's), so that text is
    indexed exactly as it was in training. ``shuffle_seed`` applies the shuffled-literal
    control (:mod:`rdf2mm.encoding.shuffle`): the literals of each chosen modality are
    permuted among the literal nodes of their predicate before the message graph is
    built (the parsed values are the same; which entity holds which is not).
    ``image_encoder`` ``pretrained`` parses images into frozen EfficientNet-Lite0
    features. Stages are ``message_graph`` and ``literals:<modality>``.
    """
    if not isinstance(modalities, str):
        modalities = ",".join(modalities) or "none"
    mmap, mmap_path = _modality_map(modality_map)
    opts = EncodeOptions(modalities, literals, inverse, self_loops, text_encoder, mmap_path, image_encoder)
    opts.validate()
    chosen = parse_modalities_option(modalities)
    timings: dict[str, float] = {}
    with stage(on_stage, timings, "message_graph"):
        lit_edges = None
        if shuffle_seed is not None:
            _, lit_mod = infer_modalities(kg, mmap)
            codes = [MODALITY_CODES.index(m) for m in chosen]
            lit_edges = shuffled_literal_edges(kg.literal_edges, lit_mod, codes, shuffle_seed)
        mg = build_message_graph(kg, literals=literals, inverse=inverse,  # type: ignore[arg-type]
                                 literal_edges=lit_edges)
        used = np.unique(mg.node_literal) if mg.num_literal_nodes else np.zeros(0, np.int64)
    options: dict[str, dict[str, Any]] = {"textual": {"encoder": text_encoder}, "visual": {"encoder": image_encoder}}
    if text_vocab is not None and text_encoder == "charcnn":
        options["textual"]["vocab"] = text_vocab
    started: dict[str, float] = {}

    def literal_stage(name: str, event: str) -> None:
        # one stage per modality, so that each one's cost shows in the timings
        key = f"literals:{name}"
        if event == "start":
            if on_stage:
                on_stage(key, "start")
            started[key] = time.perf_counter()
        else:
            timings[key] = time.perf_counter() - started.pop(key)
            if on_stage:
                on_stage(key, "end")

    prepared = prepare_literals(kg, chosen, mmap, options, literal_ids=used, on_stage=literal_stage)
    if self_loops:
        edge_index, edge_type, names = mg.edges_with_self_loops()
    else:
        edge_index, edge_type, names = mg.edge_index, mg.edge_type, list(mg.relation_names)
    return EncodedGraph(
        kg=kg, mg=mg, prepared=prepared, options=opts, edge_index=edge_index, edge_type=edge_type,
        relation_names=names, modalities=chosen, modality_options=options, timings=timings,
        shuffle_seed=shuffle_seed,
    )


def encode(
    graph: KnowledgeGraph | str | Path | Sequence[str | Path],
    out: str | Path | None = None,
    *,
    to: str = "files",
    format: str | None = None,
    cache: bool = True,
    modalities: str | Sequence[str] = "all",
    literals: str = "split",
    inverse: bool = True,
    self_loops: bool = False,
    text_encoder: str = "charcnn",
    modality_map: str | Path | ModalityMap | None = None,
    overwrite: bool = False,
    image_encoder: str = "mobilenet",
    hetero: bool = False,
    on_stage: StageHook | None = None,
    force: bool = False,
) -> EncodedGraph:
    """Read (unless given a KnowledgeGraph), encode, and write to ``out`` when given.

    ``to`` is ``"files"`` (safetensors per modality) or ``"pyg"`` (one torch-geometric
    object; ``hetero`` makes it a ``HeteroData``). The returned object's ``manifest`` is
    what was written (None without ``out``).
    """
    if to not in OUTPUTS:
        raise UsageError(f"--as must be files or pyg, not {to!r}")
    if out is not None:
        check_target(Path(out), overwrite, force)  # before the work, not after it
    timings: dict[str, float] = {}
    sources: list[str] = []
    fingerprint = None
    if isinstance(graph, KnowledgeGraph):
        kg = graph
    else:
        srcs = [graph] if isinstance(graph, (str, Path)) else list(graph)
        sources = [str(s) for s in srcs]
        with stage(on_stage, timings, "read"):
            kg, fingerprint = read_graph(srcs, format=format, cache=cache)
    if kg.num_entities == 0:
        raise InputError("the graph has no entities: nothing to encode")
    enc = encode_graph(
        kg, modalities=modalities, literals=literals, inverse=inverse, self_loops=self_loops,
        text_encoder=text_encoder, modality_map=modality_map, on_stage=on_stage, image_encoder=image_encoder,
    )
    enc.timings = {**timings, **enc.timings}
    enc.sources, enc.fingerprint = sources, fingerprint
    if out is not None:
        enc.write(out, to=to, overwrite=overwrite, hetero=hetero, on_stage=on_stage, force=force)
    return enc
