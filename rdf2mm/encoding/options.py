"""What every part of the encoding package shares: option checks, node types, the
:class:`Encoded` interface the writers read, and stage timing."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np

from rdf2mm.config import LITERAL_MODES
from rdf2mm.errors import UsageError
from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.graph.message_graph import MessageGraph
from rdf2mm.modalities.preprocess import PreparedLiterals
from rdf2mm.modalities.registry import MODALITY_NAMES, parse_modalities_option
from rdf2mm.models.registry import IMAGE_ENCODERS as _IMAGE_ENCODERS, TEXT_ENCODERS as _TEXT_ENCODERS, choices_text

FORMAT_NAME = "rdf2mm-encoded"
FORMAT_VERSION = 1
OUTPUTS = ("files", "pyg")
TEXT_ENCODERS = _TEXT_ENCODERS.names()
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
    image_encoder: str = "mobilenet"

    def validate(self) -> None:
        if self.literals not in LITERAL_MODES:
            raise UsageError(f"--literals must be {choices_text(LITERAL_MODES)}, not {self.literals!r}")
        _TEXT_ENCODERS.check(self.text_encoder)
        _IMAGE_ENCODERS.check(self.image_encoder)
        parse_modalities_option(self.modalities)


class Encoded(Protocol):
    """What the writers and the PyG conversion read of an encoded graph.

    :class:`rdf2mm.encoding.graph.EncodedGraph` is the one implementation; the modules
    below it are written against this interface so that they need not import it (its
    ``write`` and ``to_pyg`` methods call them).
    """

    kg: KnowledgeGraph
    mg: MessageGraph
    prepared: PreparedLiterals
    options: EncodeOptions
    edge_index: np.ndarray
    edge_type: np.ndarray
    relation_names: list[str]
    sources: list[str]
    fingerprint: str | None
    timings: dict[str, float]
    manifest: dict[str, Any] | None
    written_to: str | None

    @property
    def num_nodes(self) -> int: ...

    @property
    def num_entities(self) -> int: ...

    @property
    def encoded_modalities(self) -> tuple[str, ...]: ...

    def node_type(self) -> np.ndarray: ...

    def modality_nodes(self, name: str, node_type: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...


def stage(on_stage: StageHook | None, timings: dict[str, float], name: str) -> Any:
    """A context manager timing one stage (into ``timings``) and reporting its boundaries."""

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
