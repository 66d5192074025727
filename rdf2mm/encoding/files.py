"""The ``rdf2mm encode`` output folder: writing it (atomically) and loading it back.

Layout, ``to="files"`` (the default)::

    manifest.json                 shapes, modalities, options, counts (``--json`` prints it)
    graph.safetensors             edge_index int64 [2, M], edge_type int64 [M],
                                  node_type int8 [N], node_literal int64 [N - E]
    entities.parquet              id, term (N-Triples form: <iri> or _:label), kind
    relations.parquet             id, name, predicate, direction (forward|inverse|self)
    literals.parquet              id, lexical, datatype (IRI), language, modality
    modalities/<name>.safetensors data (one row per distinct literal), valid, literal_ids,
                                  node_index + node_row (which node uses which row)

With ``to="pyg"`` the tensors are a torch-geometric object in ``data.safetensors``
instead (see :mod:`rdf2mm.pyg`); the vocabularies and manifest are the same. Only
Parquet, safetensors and JSON are written, so loading never executes code.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rdf2mm.encoding.options import FORMAT_NAME, FORMAT_VERSION, NODE_TYPES, OUTPUTS, Encoded, StageHook, stage
from rdf2mm.encoding.pyg_data import save_pyg, to_data
from rdf2mm.errors import InputError, UsageError
from rdf2mm.io.atomic import atomic_dir
from rdf2mm.io.targets import check_folder_target
from rdf2mm.modalities.registry import MODALITY_NAMES


def _tensor_info(arrays: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    return {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in arrays.items()}


def check_target(out: Path, overwrite: bool, force: bool = False) -> bool:
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


def write_vocabularies(enc: Encoded, folder: Path) -> dict[str, Any]:
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


def _write_files(enc: Encoded, tmp: Path, node_type: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
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
    for name in enc.encoded_modalities:
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


def build_manifest(enc: Encoded, to: str, node_type: np.ndarray) -> dict[str, Any]:
    """The manifest minus the file list (which the writer fills in)."""
    from rdf2mm import __version__

    kg, mg = enc.kg, enc.mg
    counts = np.bincount(node_type, minlength=len(NODE_TYPES))
    modalities: dict[str, Any] = {}
    for name in enc.encoded_modalities:
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
    enc: Encoded, out: str | Path, to: str = "files", overwrite: bool = False, hetero: bool = False,
    on_stage: StageHook | None = None, force: bool = False,
) -> dict[str, Any]:
    """Write ``enc`` into the folder ``out``: complete or not at all."""
    if to not in OUTPUTS:
        raise UsageError(f"--as must be files or pyg, not {to!r}")
    out = Path(out)
    replace = check_target(out, overwrite, force)
    with stage(on_stage, enc.timings, "write"):
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
                data = to_data(enc, hetero=hetero)
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
