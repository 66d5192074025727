"""Numeric literals: the XSD numeric types, parsed strictly and scaled per predicate.

Parsing follows the XSD 1.1 lexical spaces after whitespace collapsing (leading and
trailing space, tab, CR and LF are removed; any inner whitespace makes the literal
ill-typed):

- integer and its subtypes: ``[+-]?[0-9]+``; the subtype's value range is enforced;
- decimal: ``[+-]?([0-9]+(.[0-9]*)?|.[0-9]+)`` (no exponent);
- double and float: decimal plus an optional exponent, or ``NaN``/``INF``/``+INF``/``-INF``.
  The special values are valid XSD but carry no magnitude a scaler can use, so they are
  rejected here with reason ``not finite`` (so is a value that overflows float64).

Only ASCII digits count (Python's ``float`` would also accept ``"１２"`` or ``"1_0"``).
Datatypes outside this table that a user maps to ``numeric`` are read with the
``xsd:double`` rules.

Scaling (per group, usually the predicate) is chosen by ``scaling``:

``robust`` (default)
    ``tanh((x - median) / (2 * sigma))`` with ``sigma = IQR / 1.349`` (the normal
    distribution's standard deviation when the data are normal; falls back to the 5-95 %
    range, then the full range, when the IQR is zero). The median and IQR ignore
    outliers, and ``tanh`` bounds the outliers themselves, so one huge value cannot
    squash the rest to ~0: about ±2 sigma maps to ±0.76.
``log``
    the same after ``sign(x) * log1p(|x|)``, for magnitudes spanning many decades.
``minmax``
    the reference implementation's ``2 * (x - min) / (max - min) - 1`` (outlier-sensitive).
"""
from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

from rdf2mm.errors import UsageError
from rdf2mm.modalities import xsd
from rdf2mm.modalities.base import Modality, ParsedLiterals

if TYPE_CHECKING:  # pragma: no cover - parsing must not import torch
    from torch import nn

SCALINGS = ("robust", "log", "minmax")
#: XSD whiteSpace=collapse removes exactly these characters (not NBSP or other Unicode spaces)
XSD_WS = " \t\n\r"

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_DOUBLE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPECIAL = frozenset(("NaN", "INF", "+INF", "-INF"))
_NOT_STR = "\x00not a string"  # a sentinel no pattern matches
_EXACT_LIMIT = 2.0**53  # float64 holds every integer below this exactly


class NumericModality(Modality):
    """XSD numbers as one robustly scaled value in [-1, 1] per literal."""

    name: ClassVar[str] = "numeric"

    def __init__(self, *, scaling: str = "robust") -> None:
        if scaling not in SCALINGS:
            raise UsageError(f"unknown numeric scaling {scaling!r}; choose one of {', '.join(SCALINGS)}")
        self.scaling = scaling

    def parse(self, lexical: Sequence[str], datatypes: Sequence[str], groups: np.ndarray | None = None) -> ParsedLiterals:
        """Values scaled per group into ``data`` float32 ``[n, 1]``; ill-typed rows are 0."""
        values, valid, errors = parse_numbers(lexical, datatypes)
        n = len(values)
        grp = np.zeros(n, np.int64) if groups is None else np.asarray(groups, dtype=np.int64).reshape(-1)
        if len(grp) != n:
            grp = np.zeros(n, np.int64)  # a caller bug, but parse must not raise on data
        scaled = scale_per_group(values, grp, valid, self.scaling)
        n_groups = int(len(np.unique(grp[valid])))
        return ParsedLiterals(
            data=scaled.reshape(n, 1),
            valid=valid,
            errors=errors,
            meta={"scaling": self.scaling, "groups": n_groups},
        )

    def make_encoder(self, parsed: ParsedLiterals, out_dim: int, **options: Any) -> nn.Module:
        """An MLP ``Linear(1, hidden)-ReLU-Linear(hidden, out_dim)`` (``hidden=0``: one Linear)."""
        from rdf2mm.modalities.encoders.numeric import ScalarEncoder

        return ScalarEncoder(out_dim=out_dim, **options)


# ---------------------------------------------------------------- parsing
def parse_numbers(lexical: Sequence[str], datatypes: Sequence[str]) -> tuple[np.ndarray, np.ndarray, Counter]:
    """Raw float64 values, validity and rejection reasons for XSD numeric lexical forms."""
    n = len(lexical)
    values = np.zeros(n, np.float64)
    valid = np.zeros(n, bool)
    errors: Counter = Counter()
    if n == 0:
        return values, valid, errors
    for dt, rows in rows_by_datatype(datatypes, n):
        texts = [lexical[i] for i in rows] if rows is not None else list(lexical)
        v, ok, why = _parse_one_type(texts, dt)
        if rows is None:
            values, valid = v, ok
        else:
            values[rows], valid[rows] = v, ok
        errors.update(why)
    return values, valid, errors


def rows_by_datatype(datatypes: Sequence[str], n: int) -> list[tuple[str, np.ndarray | None]]:
    """``(datatype, rows)`` pairs; ``rows`` is None when every literal has that datatype."""
    first = datatypes[0]
    if isinstance(datatypes, list) and datatypes.count(first) == n:  # the usual case, at C speed
        return [(first, None)]
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(dt, len(index)) for dt in datatypes), dtype=np.int64, count=n)
    if len(index) == 1:
        return [(first, None)]
    return [(dt, np.flatnonzero(codes == k)) for dt, k in index.items()]


def _parse_one_type(texts: list[Any], dt: str) -> tuple[np.ndarray, np.ndarray, Counter]:
    n = len(texts)
    bounds = xsd.INTEGER_RANGES.get(dt)
    pattern = _INTEGER if bounds is not None else _DECIMAL if dt == xsd.XSD_DECIMAL else _DOUBLE
    stripped = [t.strip(XSD_WS) if isinstance(t, str) else _NOT_STR for t in texts]
    match = pattern.fullmatch
    ok = np.fromiter((match(s) is not None for s in stripped), dtype=bool, count=n)
    values = np.zeros(n, np.float64)
    errors: Counter = Counter()
    good = np.flatnonzero(ok)
    if len(good) == n:
        values = np.fromiter(map(float, stripped), np.float64, count=n)
    elif len(good):
        values[good] = [float(stripped[i]) for i in good]
    for i in np.flatnonzero(~ok):
        errors[_lexical_reason(stripped[i], bounds is not None)] += 1

    # Overflow (e.g. 400 digits) gives inf: valid XSD, but not a usable number.
    inf = ok & ~np.isfinite(values)
    if inf.any():
        errors["not finite"] += int(inf.sum())
        ok &= ~inf
    if bounds is not None and bounds != (None, None):
        out = ok & _out_of_range(values, stripped, bounds)
        if out.any():
            errors[f"out of range for xsd:{dt.rpartition('#')[2]}"] += int(out.sum())
            ok &= ~out
    values[~ok] = 0.0
    return values, ok, errors


def _lexical_reason(s: str, integer: bool) -> str:
    if s is _NOT_STR:
        return "not a string"
    if s in _SPECIAL:
        return "not finite"
    if s == "":
        return "empty"
    if _DOUBLE.fullmatch(s):
        return "not an integer" if integer else "exponent not allowed in xsd:decimal"
    return "not a number"


def _out_of_range(values: np.ndarray, stripped: list[str], bounds: tuple[int | None, int | None]) -> np.ndarray:
    lo, hi = bounds
    out = np.zeros(len(values), bool)
    if lo is not None:
        out |= values < float(lo)
    if hi is not None:
        out |= values > float(hi)
    # Near 2**63 or 2**64 float64 rounds: decide those few exactly with Python ints.
    limit = max(abs(b) for b in bounds if b is not None)
    if limit >= _EXACT_LIMIT:
        near = np.flatnonzero((np.abs(values) >= _EXACT_LIMIT) & (np.abs(values) <= 4.0 * limit))
        for i in near:
            text = stripped[i]
            sign = -1 if text[0] == "-" else 1
            # Leading zeros dropped first: int() refuses over 4300 digits; these have ~21.
            exact = sign * int(text.lstrip("+-").lstrip("0") or "0")
            out[i] = (lo is not None and exact < lo) or (hi is not None and exact > hi)
    return out


# ---------------------------------------------------------------- scaling
def scale_per_group(values: np.ndarray, groups: np.ndarray, valid: np.ndarray, method: str = "robust") -> np.ndarray:
    """Scale ``values[valid]`` into [-1, 1] within each group; invalid rows are 0 (float32)."""
    out = np.zeros(len(values), np.float32)
    if not valid.any():
        return out
    v = values[valid].astype(np.float64)
    if method == "log":
        v = np.sign(v) * np.log1p(np.abs(v))
    uniq, inv = np.unique(groups[valid], return_inverse=True)
    inv = inv.reshape(-1)
    if len(uniq) <= np.iinfo(np.uint16).max:
        # Sort by value, then stably by group: a radix sort on uint16 is ~5x faster than lexsort.
        by_value = np.argsort(v)
        order = by_value[np.argsort(inv.astype(np.uint16)[by_value], kind="stable")]
    else:
        order = np.lexsort((v, inv))
    sv = v[order]
    counts = np.bincount(inv)
    starts = np.cumsum(counts) - counts

    def quantile(p: float) -> np.ndarray:
        pos = starts + p * (counts - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, starts + counts - 1)
        frac = pos - lo
        return sv[lo] * (1 - frac) + sv[hi] * frac

    with np.errstate(over="ignore", invalid="ignore"):
        if method == "minmax":
            vmin, vmax = quantile(0.0), quantile(1.0)
            span = vmax - vmin
            safe = np.where(span > 0, span, 1.0)
            scaled = np.where((span > 0)[inv], 2 * (v - vmin[inv]) / safe[inv] - 1, 0.0)
        else:
            median = quantile(0.5)
            sigma = (quantile(0.75) - quantile(0.25)) / 1.349
            wide = (quantile(0.95) - quantile(0.05)) / 3.29
            full = (quantile(1.0) - quantile(0.0)) / 4.0
            sigma = np.where(sigma > 0, sigma, np.where(wide > 0, wide, np.where(full > 0, full, 1.0)))
            # Spreads beyond float64 (values near 1e308) become inf: fall back to a finite one.
            sigma = np.where(np.isfinite(sigma), sigma, np.finfo(np.float64).max / 4)
            scaled = np.tanh((v - median[inv]) / (2.0 * sigma[inv]))
    scaled = np.nan_to_num(np.clip(scaled, -1.0, 1.0), nan=0.0)
    out[valid] = scaled.astype(np.float32)
    return out
