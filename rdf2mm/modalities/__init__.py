"""Literal modalities: datatype -> modality inference, parsers and encoders.

One module per modality (``numeric``, ``boolean``, ``temporal``, ``textual``, ``visual``,
``spatial``), each defining a :class:`~rdf2mm.modalities.base.Modality` (parsing and
validation, no torch); the torch encoders they build are in
:mod:`rdf2mm.modalities.encoders` (one module per modality, imported only by
``make_encoder``), the array layouts both sides share in
:mod:`rdf2mm.modalities.layouts`. The table of which datatype goes where is in
:mod:`rdf2mm.modalities.registry` and the IRIs in :mod:`rdf2mm.modalities.xsd`. The
registry names below are re-exported lazily, so that importing e.g.
``rdf2mm.modalities.xsd`` imports nothing else.
"""
from __future__ import annotations

from typing import Any

__all__ = ["MODALITY_NAMES", "ModalityMap", "get_modality", "parse_modalities_option"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from rdf2mm.modalities import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'rdf2mm.modalities' has no attribute {name!r}")
