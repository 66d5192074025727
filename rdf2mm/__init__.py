"""rdf2mm: end-to-end learning on multimodal RDF knowledge graphs.

The Python API mirrors the command line::

    import rdf2mm
    kg = rdf2mm.read("examples/museum.ttl")          # a KnowledgeGraph
    report = rdf2mm.inspect(kg)                       # what `rdf2mm inspect --json` prints
    result = rdf2mm.train(rdf2mm.TrainConfig(graph=["examples/museum.ttl"],
                                             target="http://example.org/museum#movement"))
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from rdf2mm.config import TrainConfig
    from rdf2mm.graph.knowledge_graph import KnowledgeGraph
    from rdf2mm.pipeline import RunResult


def read(sources: str | Path | Sequence[str | Path], *, format: str | None = None, cache: bool = True) -> KnowledgeGraph:
    """Read RDF files, folders, a store folder or a SPARQL endpoint into a KnowledgeGraph."""
    from rdf2mm.graph.ingest import read_graph

    if isinstance(sources, (str, Path)):
        sources = [sources]
    return read_graph(list(sources), format=format, cache=cache)[0]


def inspect(kg: KnowledgeGraph, validate: bool = True) -> dict[str, Any]:
    """Counts per modality and datatype, ill-typed literals, top predicates."""
    from rdf2mm.inspection import inspect_graph

    return inspect_graph(kg, validate=validate)


def train(cfg: TrainConfig) -> RunResult:
    """Train as ``rdf2mm train`` does; returns metrics and the run directory."""
    from rdf2mm.pipeline import train as _train

    return _train(cfg)


def __getattr__(name: str) -> Any:
    # Heavy classes are imported on first use so that `import rdf2mm` stays fast.
    if name == "KnowledgeGraph":
        from rdf2mm.graph.knowledge_graph import KnowledgeGraph

        return KnowledgeGraph
    if name == "TrainConfig":
        from rdf2mm.config import TrainConfig

        return TrainConfig
    raise AttributeError(name)


__all__ = ["KnowledgeGraph", "TrainConfig", "inspect", "read", "train", "__version__"]
