"""On-disk cache of parsed graphs, so a second run on the same input skips parsing.

A cache entry is keyed by the content hash of the input (see
:func:`rdf2mm.io.read.fingerprint`), the reading options and the cache format version,
so it can never be stale: changed input means a different key. Entries hold only
Parquet tables, ``.npy`` arrays (loaded with ``allow_pickle=False``) and JSON, so
loading one never executes code. Entries are written to a temporary folder and renamed
into place, so an interrupted run leaves no half-written entry. Deleting the cache
folder is always safe.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rdf2mm.graph.knowledge_graph import KnowledgeGraph

#: bump when the on-disk layout or the builder's semantics change
CACHE_FORMAT = 1


def cache_root() -> Path:
    """``$RDF2MM_CACHE``, else ``$XDG_CACHE_HOME/rdf2mm``, else ``~/.cache/rdf2mm``."""
    env = os.environ.get("RDF2MM_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "rdf2mm"


def cache_key(fingerprint: str, options: dict[str, Any]) -> str:
    """Key of a parsed graph: input content hash + reading options + format version."""
    blob = json.dumps({"fp": fingerprint, "opt": options, "v": CACHE_FORMAT}, sort_keys=True)
    return hashlib.blake2b(blob.encode(), digest_size=16).hexdigest()


def save_graph(kg: KnowledgeGraph, folder: Path) -> None:
    """Write ``kg`` into ``folder`` atomically (temp folder + rename)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        pq.write_table(pa.table({"term": pa.array(kg.entities, pa.string())}), tmp / "entities.parquet")
        pq.write_table(pa.table({"iri": pa.array(kg.relations, pa.string())}), tmp / "relations.parquet")
        pq.write_table(pa.table({"iri": pa.array(kg.datatypes, pa.string())}), tmp / "datatypes.parquet")
        pq.write_table(
            pa.table(
                {
                    "lexical": pa.array(kg.literal_lexical, pa.large_string()),
                    "datatype": pa.array(kg.literal_datatype, pa.int32()),
                    "language": pa.array(kg.literal_language, pa.string()),
                }
            ),
            tmp / "literals.parquet",
        )
        np.save(tmp / "edges.npy", kg.edges, allow_pickle=False)
        np.save(tmp / "literal_edges.npy", kg.literal_edges, allow_pickle=False)
        (tmp / "stats.json").write_text(json.dumps(kg.stats, sort_keys=True))
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_graph(folder: Path) -> KnowledgeGraph:
    """Load a graph written by :func:`save_graph` (no code execution: Parquet, npy, JSON)."""
    folder = Path(folder)
    lits = pq.read_table(folder / "literals.parquet")
    return KnowledgeGraph(
        entities=pq.read_table(folder / "entities.parquet").column("term").to_pylist(),
        relations=pq.read_table(folder / "relations.parquet").column("iri").to_pylist(),
        literal_lexical=lits.column("lexical").to_pylist(),
        literal_datatype=lits.column("datatype").to_numpy().astype(np.int32, copy=True),
        literal_language=lits.column("language").to_pylist(),
        datatypes=pq.read_table(folder / "datatypes.parquet").column("iri").to_pylist(),
        edges=np.load(folder / "edges.npy", allow_pickle=False),
        literal_edges=np.load(folder / "literal_edges.npy", allow_pickle=False),
        stats=json.loads((folder / "stats.json").read_text()),
    )


def load_cached(key: str, root: Path | None = None) -> KnowledgeGraph | None:
    """The cached graph for ``key``, or None (a damaged entry is discarded, not trusted)."""
    folder = (root or cache_root()) / "graphs" / key
    if not (folder / "stats.json").exists():
        return None
    try:
        kg = load_graph(folder)
    except Exception:  # noqa: BLE001 - a damaged entry is rebuilt, never used
        shutil.rmtree(folder, ignore_errors=True)
        return None
    kg.stats = dict(kg.stats, cache="hit")
    return kg


def store_cached(key: str, kg: KnowledgeGraph, root: Path | None = None) -> None:
    """Store ``kg`` under ``key``; failures to write the cache never fail the run."""
    try:
        save_graph(kg, (root or cache_root()) / "graphs" / key)
    except OSError:
        pass
