"""rdf2mm: end-to-end learning on multimodal RDF knowledge graphs.

The Python API mirrors the command line::

    import rdf2mm
    kg = rdf2mm.read("examples/museum.ttl")          # a KnowledgeGraph
    report = rdf2mm.inspect(kg)                       # what `rdf2mm inspect --json` prints
    result = rdf2mm.train(rdf2mm.TrainConfig(graph=["examples/museum.ttl"],
                                             target="http://example.org/museum#movement"))
    enc = rdf2mm.encode(kg, "museum-encoded")         # what `rdf2mm encode` writes
    data = kg.to_pyg()                                # a torch_geometric Data with edge_type
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from rdf2mm.graph.converters import register_converter

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from rdf2mm.config import TrainConfig
    from rdf2mm.encoding import EncodedFiles, EncodedGraph
    from rdf2mm.graph.knowledge_graph import KnowledgeGraph
    from rdf2mm.runs.result import RunResult


def read(sources: str | Path | Sequence[str | Path], *, format: str | None = None, cache: bool = True) -> KnowledgeGraph:
    """Read RDF files, folders, a store folder or a SPARQL endpoint into a KnowledgeGraph."""
    from rdf2mm.graph.ingest import read_graph

    if isinstance(sources, (str, Path)):
        sources = [sources]
    return read_graph(list(sources), format=format, cache=cache)[0]


def inspect(kg: KnowledgeGraph, validate: bool = True) -> dict[str, Any]:
    """Counts per modality and datatype, ill-typed literals, top predicates."""
    from rdf2mm.modalities.inspection import inspect_graph

    return inspect_graph(kg, validate=validate)


def train(cfg: TrainConfig) -> RunResult:
    """Train as ``rdf2mm train`` does; returns metrics and the run directory."""
    from rdf2mm.pipeline import train as _train

    return _train(cfg)


def encode(graph: KnowledgeGraph | str | Path | Sequence[str | Path], out: str | Path | None = None, **options: Any) -> EncodedGraph:
    """Encode as ``rdf2mm encode`` does: message graph, vocabularies, literal tensors.

    ``graph`` is a KnowledgeGraph or what :func:`read` takes. Options (keyword): ``to``
    ("files" or "pyg"), ``hetero``, ``modalities``, ``literals``, ``inverse``,
    ``self_loops``, ``text_encoder``, ``image_encoder``, ``modality_map``, ``format``, ``cache``,
    ``overwrite``. Writes to ``out`` when given; returns the encoded graph (``.manifest``,
    ``.to_pyg()``, ``.kg``, ``.prepared``).
    """
    from rdf2mm.encoding import encode as _encode

    return _encode(graph, out, **options)


def load_encoded(folder: str | Path) -> EncodedFiles:
    """Load an ``rdf2mm encode`` output folder (``--as files``): arrays, tables, manifest."""
    from rdf2mm.encoding import load_encoded as _load

    return _load(folder)


def load_pyg(path: str | Path) -> Any:
    """Load an ``rdf2mm encode --as pyg`` output (folder or ``data.safetensors``); no pickle."""
    from rdf2mm.pyg import load_pyg as _load

    return _load(path)


def _to_pyg(graph: KnowledgeGraph, **options: Any) -> Any:
    from rdf2mm.pyg import to_pyg

    return to_pyg(graph, **options)


# KnowledgeGraph.to_pyg: the graph layer does not import rdf2mm.pyg (built on it); the
# package, imported before any graph exists, plugs it in (rdf2mm.graph.converters).
register_converter("pyg", _to_pyg)


def __getattr__(name: str) -> Any:
    # Heavy classes are imported on first use so that `import rdf2mm` stays fast.
    if name == "KnowledgeGraph":
        from rdf2mm.graph.knowledge_graph import KnowledgeGraph

        return KnowledgeGraph
    if name == "TrainConfig":
        from rdf2mm.config import TrainConfig

        return TrainConfig
    raise AttributeError(name)


__all__ = [
    "KnowledgeGraph", "TrainConfig", "encode", "inspect", "load_encoded", "load_pyg", "read", "train", "__version__",
]
