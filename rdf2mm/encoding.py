"""Encode a graph without training: integer-coded edges, vocabularies, literal tensors.

This is what ``rdf2mm encode`` writes, for users who bring their own model. The work is
exactly the input side of ``rdf2mm train`` (same options, same message graph, same
literal parsing), stopped before any model exists.

Output folder, ``to="files"`` (the default)::

    manifest.json                 shapes, modalities, options, counts (``--json`` prints it)
    graph.safetensors             edge_index int64 [2, M], edge_type int64 [M],
                                  node_type int8 [N], node_literal int64 [N - E]
    entities.parquet              id, term (N-Triples form: <iri> or _:label), kind
    relations.parquet             id, name, predicate, direction (forward|inverse|self)
    literals.parquet              id, lexical, datatype (IRI), language, modality
    modalities/<name>.safetensors data (one row per distinct literal), valid, literal_ids,
                                  node_index + node_row (which node uses which row)

Nodes ``0..E-1`` are entities (ids into ``entities.parquet``); nodes ``E..N-1`` are
literal nodes, ``node_literal[n - E]`` being the id into ``literals.parquet``. Relation
``t`` of an edge is row ``t`` of ``relations.parquet``. With ``to="pyg"`` the tensors are
a torch-geometric object in ``data.safetensors`` instead (see :mod:`rdf2mm.pyg`); the
vocabularies and manifest are the same. Only Parquet, safetensors and JSON are
written, so loading never executes code.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from rdf2mm.errors import InputError, UsageError
from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.graph.message_graph import LITERAL_MODES, MessageGraph, build_message_graph
from rdf2mm.io.targets import check_folder_target
from rdf2mm.modalities.preprocess import PreparedLiterals, infer_modalities, prepare_literals
from rdf2mm.modalities.registry import MODALITY_NAMES, ModalityMap, parse_modalities_option

FORMAT_NAME = "rdf2mm-encoded"
FORMAT_VERSION = 1
OUTPUTS = ("files", "pyg")
TEXT_ENCODERS = ("charcnn", "minilm")
#: node type names, indexed by ``node_type``: entities, one per modality, then literal
#: nodes no encoder covers (unknown datatype, ill-typed, or modality not selected)
NODE_TYPES: tuple[str, ...] = ("entity", *MODALITY_NAMES, "literal")
LITERAL_TYPE = len(NODE_TYPES) - 1

#: called at the start and the end of every stage: ``on_stage(name, "start" | "end")``
StageHook = Callable[[str, str], None]


@dataclass
class EncodeOptions:
    """The input-side options of ``rdf2mm train``, which ``encode`` shares."""

    modalities: str = "all"
    literals: str = "split"
    inverse: bool = True
    self_loops: bool = False
    text_encoder: str = "charcnn"
    #: path of a TOML modality map (recorded in the manifest), or None for the defaults
    modality_map: str | None = None

    def validate(self) -> None:
        if self.literals not in LITERAL_MODES:
            raise UsageError(f"--literals must be split, merged or none, not {self.literals!r}")
        if self.text_encoder not in TEXT_ENCODERS:
            raise UsageError(f"--text-encoder must be charcnn or minilm, not {self.text_encoder!r}")
        parse_modalities_option(self.modalities)


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
    sources: list[str] = field(default_factory=list)
    fingerprint: str | None = None
    #: seconds per stage
    timings: dict[str, float] = field(default_factory=dict)
    #: set once written (see :meth:`write`)
    manifest: dict[str, Any] | None = None
    #: the folder it was written to (see :meth:`write`)
    written_to: str | None = None

    def __repr__(self) -> str:
        # The default dataclass repr would print every array: thousands of lines.
        mods = ", ".join(f"{m} {len(self.prepared.data[m].parsed)}" for m in self.modalities) or "none"
        where = f", written to {self.written_to}" if self.written_to else ""
        return (f"EncodedGraph(nodes={self.num_nodes}, entities={self.num_entities}, "
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
    def modalities(self) -> tuple[str, ...]:
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
        from rdf2mm.pyg import to_pyg

        return to_pyg(self, hetero=hetero)


# ------------------------------------------------------------------ building


def _stage(on_stage: StageHook | None, timings: dict[str, float], name: str) -> Any:
    """A context manager timing one stage and reporting its boundaries."""

    class _Ctx:
        def __enter__(self) -> None:
            if on_stage:
                on_stage(name, "start")
            self.t0 = time.perf_counter()

        def __exit__(self, *exc: Any) -> None:
            timings[name] = time.perf_counter() - self.t0
            if on_stage:
                on_stage(name, "end")

    return _Ctx()


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
    on_stage: StageHook | None = None,
) -> EncodedGraph:
    """Message graph and parsed literals of ``kg``, as ``rdf2mm train`` would build them.

    Only the literals that become nodes are parsed (none with ``literals="none"``).
    Stages are ``message_graph`` and ``literals:<modality>``.
    """
    if not isinstance(modalities, str):
        modalities = ",".join(modalities) or "none"
    mmap, mmap_path = _modality_map(modality_map)
    opts = EncodeOptions(modalities, literals, inverse, self_loops, text_encoder, mmap_path)
    opts.validate()
    chosen = parse_modalities_option(modalities)
    timings: dict[str, float] = {}
    with _stage(on_stage, timings, "message_graph"):
        mg = build_message_graph(kg, literals=literals, inverse=inverse)  # type: ignore[arg-type]
        used = np.unique(mg.node_literal) if mg.num_literal_nodes else np.zeros(0, np.int64)
    per_dt, lit_mod = infer_modalities(kg, mmap)
    prepared = PreparedLiterals(datatype_modality=per_dt, literal_modality=lit_mod)
    options = {"textual": {"encoder": text_encoder}}
    # One modality at a time, so that each one's cost shows in the timings.
    for name in chosen:
        if not np.any(lit_mod[used] == MODALITY_NAMES.index(name)):
            continue
        with _stage(on_stage, timings, f"literals:{name}"):
            part = prepare_literals(kg, (name,), mmap, options, literal_ids=used)
        prepared.data.update(part.data)
        for dt, entry in part.report.items():
            if dt not in prepared.report or entry["modality"] == name:
                prepared.report[dt] = entry
    if not prepared.report:
        prepared.report = prepare_literals(kg, (), mmap, literal_ids=used).report
    if self_loops:
        edge_index, edge_type, names = mg.edges_with_self_loops()
    else:
        edge_index, edge_type, names = mg.edge_index, mg.edge_type, list(mg.relation_names)
    return EncodedGraph(
        kg=kg, mg=mg, prepared=prepared, options=opts, edge_index=edge_index, edge_type=edge_type,
        relation_names=names, timings=timings,
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
        _check_target(Path(out), overwrite, force)  # before the work, not after it
    timings: dict[str, float] = {}
    sources: list[str] = []
    fingerprint = None
    if isinstance(graph, KnowledgeGraph):
        kg = graph
    else:
        from rdf2mm.graph.ingest import read_graph

        srcs = [graph] if isinstance(graph, (str, Path)) else list(graph)
        sources = [str(s) for s in srcs]
        with _stage(on_stage, timings, "read"):
            kg, fingerprint = read_graph(srcs, format=format, cache=cache)
    if kg.num_entities == 0:
        raise InputError("the graph has no entities: nothing to encode")
    enc = encode_graph(
        kg, modalities=modalities, literals=literals, inverse=inverse, self_loops=self_loops,
        text_encoder=text_encoder, modality_map=modality_map, on_stage=on_stage,
    )
    enc.timings = {**timings, **enc.timings}
    enc.sources, enc.fingerprint = sources, fingerprint
    if out is not None:
        enc.write(out, to=to, overwrite=overwrite, hetero=hetero, on_stage=on_stage, force=force)
    return enc


# ------------------------------------------------------------------- writing


def _tensor_info(arrays: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    return {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in arrays.items()}


def _check_target(out: Path, overwrite: bool, force: bool = False) -> bool:
    """Whether ``out`` is to be replaced; refuse to clobber anything but our own output
    (see :mod:`rdf2mm.io.targets`), and our own only with ``overwrite``."""
    def ours(folder: Path) -> bool:
        try:
            mine = json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("format") == FORMAT_NAME
        except (OSError, ValueError, AttributeError):
            mine = False
        if not mine:
            raise UsageError(f"output folder {folder} is not an rdf2mm encode output; refusing to replace it "
                             "(choose another path, or pass force=True; on the command line: --force)")
        if not overwrite:
            raise UsageError(f"output folder {folder} exists; to replace it pass overwrite=True "
                             f"(on the command line: rdf2mm encode --overwrite)")
        return True

    return check_folder_target(out, ours, "an encode output", force)


def write_vocabularies(enc: EncodedGraph, folder: Path) -> dict[str, Any]:
    """entities/relations/literals Parquet tables; returns their manifest entries."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    kg = enc.kg
    ents = pa.array(kg.entities, pa.string())
    kind = pa.DictionaryArray.from_arrays(
        pa.array(np.fromiter((t.startswith("_:") for t in kg.entities), bool, kg.num_entities).astype(np.int8)),
        pa.array(["iri", "blank"]),
    )
    pq.write_table(
        pa.table({"id": pa.array(np.arange(kg.num_entities, dtype=np.int64)), "term": ents, "kind": kind}),
        folder / "entities.parquet",
    )
    R = kg.num_relations
    preds, direction = [], []
    for i, name in enumerate(enc.relation_names):
        if i < R:
            preds.append(kg.relations[i]), direction.append("forward")
        elif enc.mg.inverse and i < 2 * R:
            preds.append(kg.relations[i - R]), direction.append("inverse")
        else:
            preds.append(None), direction.append("self")
    pq.write_table(
        pa.table({
            "id": pa.array(np.arange(len(enc.relation_names), dtype=np.int64)),
            "name": pa.array(enc.relation_names, pa.string()),
            "predicate": pa.array(preds, pa.string()),
            "direction": pa.array(direction, pa.string()).dictionary_encode(),
        }),
        folder / "relations.parquet",
    )
    modality_names = [*MODALITY_NAMES, "other"]
    pq.write_table(
        pa.table({
            "id": pa.array(np.arange(kg.num_literals, dtype=np.int64)),
            "lexical": pa.array(kg.literal_lexical, pa.large_string()),
            "datatype": pa.DictionaryArray.from_arrays(
                pa.array(np.asarray(kg.literal_datatype, dtype=np.int32)), pa.array(kg.datatypes, pa.string())
            ),
            "language": pa.array(kg.literal_language, pa.string()),
            "modality": pa.DictionaryArray.from_arrays(
                pa.array(np.asarray(enc.prepared.literal_modality, dtype=np.int8)), pa.array(modality_names)
            ),
        }),
        folder / "literals.parquet",
    )
    return {
        "entities": {"path": "entities.parquet", "rows": kg.num_entities, "columns": ["id", "term", "kind"]},
        "relations": {"path": "relations.parquet", "rows": len(enc.relation_names),
                      "columns": ["id", "name", "predicate", "direction"]},
        "literals": {"path": "literals.parquet", "rows": kg.num_literals,
                     "columns": ["id", "lexical", "datatype", "language", "modality"]},
    }


def _write_files(enc: EncodedGraph, tmp: Path, node_type: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
    from safetensors.numpy import save_file

    graph = {
        "edge_index": np.ascontiguousarray(enc.edge_index, dtype=np.int64),
        "edge_type": np.ascontiguousarray(enc.edge_type, dtype=np.int64),
        "node_type": node_type,
        "node_literal": np.ascontiguousarray(enc.mg.node_literal, dtype=np.int64),
    }
    save_file(graph, str(tmp / "graph.safetensors"))
    files = {"graph": {"path": "graph.safetensors", "tensors": _tensor_info(graph)}}
    mods: dict[str, Any] = {}
    if enc.prepared.data:
        (tmp / "modalities").mkdir()
    for name in enc.modalities:
        md = enc.prepared.data[name]
        nodes, rows = enc.modality_nodes(name, node_type)
        arrays = {
            "data": np.ascontiguousarray(md.parsed.data),
            "valid": np.ascontiguousarray(md.parsed.valid, dtype=bool),
            "literal_ids": np.ascontiguousarray(md.literal_ids, dtype=np.int64),
            "node_index": nodes,
            "node_row": rows,
        }
        path = f"modalities/{name}.safetensors"
        save_file(arrays, str(tmp / path))
        mods[name] = {"path": path, "tensors": _tensor_info(arrays)}
    return files, mods


def build_manifest(enc: EncodedGraph, to: str, node_type: np.ndarray) -> dict[str, Any]:
    """The manifest minus the file list (which the writer fills in)."""
    from rdf2mm import __version__

    kg, mg = enc.kg, enc.mg
    counts = np.bincount(node_type, minlength=len(NODE_TYPES))
    modalities: dict[str, Any] = {}
    for name in enc.modalities:
        md = enc.prepared.data[name]
        modalities[name] = {
            "literals": int(len(md.literal_ids)),
            "valid": int(md.parsed.valid.sum()),
            "nodes": int(counts[NODE_TYPES.index(name)]),
            "row_shape": list(md.parsed.data.shape[1:]),
            "dtype": str(md.parsed.data.dtype),
            "datatypes": sorted(dt for dt, m in enc.prepared.datatype_modality.items() if m == name),
            "meta": md.parsed.meta,
        }
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "layout": to,
        "rdf2mm_version": __version__,
        "sources": enc.sources,
        "fingerprint": enc.fingerprint,
        "options": asdict(enc.options),
        "counts": {
            "triples": kg.num_triples,
            "entities": kg.num_entities,
            "predicates": kg.num_relations,
            "literals": kg.num_literals,
            "nodes": mg.num_nodes,
            "literal_nodes": mg.num_literal_nodes,
            "edges": int(enc.edge_index.shape[1]),
            "relations": len(enc.relation_names),
        },
        "node_types": {name: int(counts[i]) for i, name in enumerate(NODE_TYPES)},
        "nodes": "0..E-1 are entities (entities.parquet ids); E..N-1 literal nodes, node_literal[n-E] = literals.parquet id",
        "modalities": modalities,
        "datatypes": enc.prepared.report,
        # timings and cache state would make two encodings of one input differ
        "stats": {k: v for k, v in kg.stats.items() if k not in ("read_seconds", "cache", "phase_seconds")},
    }


def write_encoded(
    enc: EncodedGraph, out: str | Path, to: str = "files", overwrite: bool = False, hetero: bool = False,
    on_stage: StageHook | None = None, force: bool = False,
) -> dict[str, Any]:
    """Write ``enc`` into the folder ``out``: complete or not at all."""
    from rdf2mm.io.atomic import atomic_dir

    if to not in OUTPUTS:
        raise UsageError(f"--as must be files or pyg, not {to!r}")
    out = Path(out)
    replace = _check_target(out, overwrite, force)
    with _stage(on_stage, enc.timings, "write"):
        node_type = enc.node_type()
        manifest = build_manifest(enc, to, node_type)
        with atomic_dir(out, replace=replace) as tmp:
            files = write_vocabularies(enc, tmp)
            if to == "files":
                graph_files, mod_files = _write_files(enc, tmp, node_type)
                files.update(graph_files)
                for name, entry in mod_files.items():
                    manifest["modalities"][name].update(entry)
            else:
                from rdf2mm.pyg import save_pyg, to_pyg

                data = to_pyg(enc, hetero=hetero)
                save_pyg(data, tmp / "data.safetensors")
                files["pyg"] = {"path": "data.safetensors", "class": type(data).__name__,
                                "load": "rdf2mm.pyg.load_pyg(folder)"}
            manifest["files"] = files
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    enc.manifest = manifest
    enc.written_to = str(out)
    return manifest


# ------------------------------------------------------------------- loading


@dataclass
class EncodedFiles:
    """An ``encode`` output folder, loaded (numpy arrays and pyarrow tables)."""

    manifest: dict[str, Any]
    graph: dict[str, np.ndarray]
    entities: Any  # pyarrow.Table
    relations: Any
    literals: Any
    #: per modality: data, valid, literal_ids, node_index, node_row
    modalities: dict[str, dict[str, np.ndarray]]

    def __repr__(self) -> str:
        edges = self.graph.get("edge_index")
        mods = ", ".join(f"{m} {len(d.get('data', []))}" for m, d in self.modalities.items()) or "none"
        return (f"EncodedFiles(entities={self.entities.num_rows}, relations={self.relations.num_rows}, "
                f"literals={self.literals.num_rows}, edges={0 if edges is None else edges.shape[1]}, "
                f"modalities=[{mods}])")


def load_encoded(folder: str | Path) -> EncodedFiles:
    """Load a ``to="files"`` output folder (Parquet, safetensors, JSON: no code runs)."""
    import pyarrow.parquet as pq
    from safetensors.numpy import load_file

    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{folder}: no manifest.json (not an rdf2mm encode output)") from None
    except ValueError as exc:
        raise InputError(f"{folder}/manifest.json: invalid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise InputError(f"{folder}: not an rdf2mm encode output")
    if manifest.get("layout") != "files":
        raise InputError(f"{folder}: written with --as {manifest.get('layout')}; use rdf2mm.pyg.load_pyg")

    def tensors(rel: str) -> dict[str, np.ndarray]:
        try:
            return load_file(str(folder / rel))
        except Exception as exc:  # noqa: BLE001 - any damage means: do not trust the file
            raise InputError(f"{folder / rel}: not a valid safetensors file ({exc})") from None

    files = manifest["files"]
    return EncodedFiles(
        manifest=manifest,
        graph=tensors(files["graph"]["path"]),
        entities=pq.read_table(folder / files["entities"]["path"]),
        relations=pq.read_table(folder / files["relations"]["path"]),
        literals=pq.read_table(folder / files["literals"]["path"]),
        modalities={name: tensors(m["path"]) for name, m in manifest["modalities"].items()},
    )
