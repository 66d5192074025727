"""Boolean literals: ``xsd:boolean`` as +1 (true) or -1 (false).

The XSD lexical space is exactly ``true``, ``false``, ``1`` and ``0`` after whitespace
collapsing; anything else (``True``, ``yes``, ``t``) is ill-typed ("not a boolean").
"""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

from rdf2mm.modalities.base import Modality, ParsedLiterals

if TYPE_CHECKING:  # pragma: no cover - parsing must not import torch
    from torch import nn

XSD_WS = " \t\n\r"
_VALUE = {"true": 1.0, "1": 1.0, "false": -1.0, "0": -1.0}


class BooleanModality(Modality):
    """xsd:boolean as one value, +1 or -1."""

    name: ClassVar[str] = "boolean"

    def parse(self, lexical: Sequence[str], datatypes: Sequence[str], groups: np.ndarray | None = None) -> ParsedLiterals:
        """``data`` float32 ``[n, 1]``: +1 true, -1 false, 0 for ill-typed rows."""
        n = len(lexical)
        get = _VALUE.get
        values = np.fromiter(
            (get(t.strip(XSD_WS), 0.0) if isinstance(t, str) else 0.0 for t in lexical), dtype=np.float32, count=n
        )
        valid = values != 0
        errors: Counter = Counter()
        for i in np.flatnonzero(~valid):
            errors["not a string" if not isinstance(lexical[i], str) else "not a boolean"] += 1
        return ParsedLiterals(data=values.reshape(n, 1), valid=valid, errors=errors, meta={})

    def make_encoder(self, parsed: ParsedLiterals, out_dim: int, **options: Any) -> nn.Module:
        """One ``Linear(1, out_dim)``: the value direction plus a bias."""
        from rdf2mm.modalities.encoders.boolean import BooleanEncoder

        return BooleanEncoder(out_dim=out_dim, **options)
