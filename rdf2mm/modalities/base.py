"""The contract every modality implements.

A modality turns the lexical forms of its literals into arrays (``parse``), reports
which ones are ill-typed and why (``check`` does only that, for ``rdf2mm inspect``),
and builds the torch encoder that maps those arrays to vectors (``make_encoder``).
Adding a modality means adding one module that defines a :class:`Modality` subclass
(torch-free: ``rdf2mm inspect`` imports it), its encoder in
:mod:`rdf2mm.modalities.encoders`, imported inside ``make_encoder``, and registering it
in :mod:`rdf2mm.modalities.registry`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - parsing must not import torch
    from torch import nn


@dataclass
class ParsedLiterals:
    """Preprocessed literals of one modality, row-aligned with the input lexical forms.

    ``data`` holds one row per input literal (rows of invalid literals are zero);
    ``valid[i]`` says whether literal ``i`` parsed; ``errors`` counts the reasons for
    rejection; ``meta`` carries what the encoder needs to know (e.g. vocabulary size,
    sequence length, image size) and must be JSON-serialisable.
    """

    data: np.ndarray
    valid: np.ndarray
    errors: Counter = field(default_factory=Counter)
    meta: dict[str, Any] = field(default_factory=dict)
    #: literals accepted although not in the canonical XSD lexical space, by reason
    #: (bool per row), e.g. years with fewer than four digits: valid and encoded, but reported
    lenient: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.valid.shape[0])

    @property
    def n_invalid(self) -> int:
        return int((~self.valid).sum())


class Modality(ABC):
    """A literal modality: datatypes it covers, how to parse them, how to encode them."""

    #: short name used on the command line and in reports (``numeric``, ``temporal``, ...)
    name: ClassVar[str]

    @abstractmethod
    def parse(self, lexical: Sequence[str], datatypes: Sequence[str], groups: np.ndarray | None = None) -> ParsedLiterals:
        """Parse and validate lexical forms into a row-aligned array.

        ``datatypes[i]`` is the full datatype IRI of literal ``i`` (``rdf:langString`` for
        language-tagged strings). ``groups`` (int array, optional) gives a group id per
        literal, usually the predicate, for per-group scaling. Must never raise on bad
        input: ill-typed literals are marked invalid and counted in ``errors``.
        """

    def check(self, lexical: Sequence[str], datatypes: Sequence[str], groups: np.ndarray | None = None) -> ParsedLiterals:
        """Validate only: the ``valid``, ``errors`` and ``lenient`` that :meth:`parse` would give.

        ``data`` may be empty (``[n, 0]``) and ``meta`` partial: this is for reports
        (``rdf2mm inspect``), not for encoding. Modalities whose arrays are costly to build
        (images, geometries, text) override it; by default it parses.
        """
        return self.parse(lexical, datatypes, groups)

    @abstractmethod
    def make_encoder(self, parsed: ParsedLiterals, out_dim: int, **options: Any) -> nn.Module:
        """Build the encoder: a module mapping ``torch.as_tensor(parsed.data[idx])`` to ``[len(idx), out_dim]``."""
