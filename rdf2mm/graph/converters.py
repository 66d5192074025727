"""Conversions of a :class:`~rdf2mm.graph.knowledge_graph.KnowledgeGraph` that the layers
above the graph provide.

``kg.to_pyg()`` is a convenience of the graph, but the conversion is built on top of it
(message graph, literal parsing, encoding): the graph layer must not import those layers.
They are plugged in here instead, by name, by the package itself (``rdf2mm/__init__.py``
registers ``"pyg"`` when imported, which happens before any module of the package runs,
hence before any graph exists). This module imports nothing, so registering costs nothing.
"""
from __future__ import annotations

from typing import Any, Callable

__all__ = ["register_converter", "convert"]

_CONVERTERS: dict[str, Callable[..., Any]] = {}


def register_converter(name: str, function: Callable[..., Any]) -> None:
    """Make ``function(graph, **options)`` the converter called ``name``."""
    _CONVERTERS[name] = function


def convert(name: str, graph: Any, **options: Any) -> Any:
    """Run the converter called ``name`` on ``graph``."""
    try:
        function = _CONVERTERS[name]
    except KeyError:
        raise LookupError(f"no {name!r} converter is registered (known: {', '.join(sorted(_CONVERTERS)) or 'none'})") from None
    return function(graph, **options)
