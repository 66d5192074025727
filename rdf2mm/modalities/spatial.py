"""Spatial literals: WKT geometries (``geo:wktLiteral``), encoded as vertex sequences.

Accepted: POINT, LINESTRING, LINEARRING, POLYGON (with holes), MULTIPOINT,
MULTILINESTRING, MULTIPOLYGON and GEOMETRYCOLLECTION (nested too), any case, with Z, M
or ZM coordinates (only x and y are kept), optionally preceded by a GeoSPARQL CRS IRI
(``<http://www.opengis.net/def/crs/EPSG/0/4326> POINT(...)``) or an EWKT ``SRID=n;``
prefix. Coordinates keep their sign (the reference implementation zeroed negatives).

Each geometry becomes a sequence of at most ``max_points`` vertices in document order:
rings, lines and points one after another, the closing vertex of each ring dropped (the
ring-start marker carries that information). A longer geometry is resampled: every ring
start is kept (as many as fit), and the rest of the budget is spread evenly over the
other vertices. Vertices are centred on their mean and divided by the half-extent of
the bounding box (the larger side), so shapes of any size and place look alike; the
size and place are kept as global features instead.

``data`` is float32 ``[n, max_points, 18]``. Channels per position:

====  =====================================================================
0, 1  x, y: ``(coord - mean) / half_extent`` (``half_extent`` 1 for a single point)
2     1 at the first vertex of every ring, line or point (including the first)
3     1 at the first vertex of every part (member of a MULTI* / collection)
4     1 on the vertices of a polygon's interior ring (hole)
5     1 at the last real vertex (end of sequence)
6     mask: 1 for real vertices, 0 for padding
====  =====================================================================

Global features, stored in position 0 only (zero elsewhere):

====  =====================================================================
7     log10 of the half-extent (floored at 1e-9, so a point gives -9)
8, 9  mean x, mean y, as ``sign(v) * log1p(|v|)`` (keeps place and sign, any CRS)
10    log1p(number of vertices before resampling)
11    log1p(number of parts)
12    log1p(number of holes)
13-15 1 if the geometry has parts of dimension 0 (points), 1 (lines), 2 (polygons)
16    area / (2 * half_extent)^2: how much of its bounding square a polygon fills
17    1 if the sequence was resampled (more than ``max_points`` vertices)
====  =====================================================================

Invalid rows are all zero. Ill-typed reasons: "invalid WKT", "empty geometry",
"too large" (more than ``max_chars`` characters, ``max_vertices`` vertices or
``MAX_DEPTH`` nested parentheses, checked on the text before GEOS builds anything),
"unsupported geometry" (curves, surfaces), "coordinates out of range" (NaN, infinite,
or too big to centre and scale). Parsing never raises.

``meta`` carries the mean / std of the global features over the valid rows; the
encoder standardises them with it.
"""
from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import shapely

from rdf2mm.errors import UsageError
from rdf2mm.modalities.base import Modality, ParsedLiterals
from rdf2mm.modalities.layouts import CHANNELS, GLOBAL_CHANNELS, MASK, SEQ_CHANNELS

if TYPE_CHECKING:  # pragma: no cover - parsing must not import torch
    from torch import nn


# shapely type ids
_POINT, _LINESTRING, _LINEARRING, _POLYGON = 0, 1, 2, 3
_MULTI_MIN = 4  # 4 multipoint, 5 multilinestring, 6 multipolygon, 7 collection
_DIM = {_POINT: 0, _LINESTRING: 1, _LINEARRING: 1, _POLYGON: 2}
#: deepest parenthesis nesting accepted (a MULTIPOLYGON needs 3, nested collections more)
MAX_DEPTH = 32


class SpatialModality(Modality):
    """WKT geometries as vertex sequences, encoded by a 1-D CNN."""

    name: ClassVar[str] = "spatial"

    def __init__(self, *, max_points: int = 64, max_chars: int = 1_000_000, max_vertices: int = 100_000) -> None:
        if max_points < 1:
            raise UsageError(f"max_points must be at least 1, got {max_points}")
        self.max_points = int(max_points)
        self.max_chars = int(max_chars)
        self.max_vertices = int(max_vertices)

    # ------------------------------------------------------------------ parse
    def parse(self, lexical: Sequence[str], datatypes: Sequence[str], groups: np.ndarray | None = None) -> ParsedLiterals:
        """Parse WKT and build the vertex sequences; ill-typed literals are zero rows."""
        data = np.zeros((len(lexical), self.max_points, CHANNELS), dtype=np.float32)
        valid, errors = self._parse_into(lexical, data)
        data[~valid] = 0
        g_mean, g_std = _global_stats(data, valid)
        meta = {
            "max_points": self.max_points,
            "channels": CHANNELS,
            "seq_channels": SEQ_CHANNELS,
            "global_mean": g_mean,
            "global_std": g_std,
        }
        return ParsedLiterals(data=data, valid=valid, errors=errors, meta=meta)

    def check(self, lexical: Sequence[str], datatypes: Sequence[str], groups: np.ndarray | None = None) -> ParsedLiterals:
        """Validate only: the same geometry and finiteness checks as :meth:`parse`, no vertex sequences."""
        valid, errors = self._parse_into(lexical, None)
        meta = {"max_points": self.max_points, "channels": CHANNELS, "seq_channels": SEQ_CHANNELS}
        return ParsedLiterals(data=np.zeros((len(lexical), 0), dtype=np.float32), valid=valid, errors=errors, meta=meta)

    def _parse_into(self, lexical: Sequence[str], data: np.ndarray | None) -> tuple[np.ndarray, Counter]:
        """Validity and reasons of every literal; the vertex sequences go into ``data`` unless it is None."""
        n = len(lexical)
        valid = np.zeros(n, dtype=bool)
        errors: Counter = Counter()
        reasons: list[str | None] = [None] * n
        texts: list[str] = []
        rows: list[int] = []
        for i, lex in enumerate(lexical):
            text, reason = self._precheck(lex)
            if text is None:
                reasons[i] = reason
            else:
                texts.append(text)
                rows.append(i)
        geoms = _from_wkt(texts, reasons, rows)
        keep = [j for j, g in enumerate(geoms) if g is not None]
        if keep:
            g = np.asarray([geoms[j] for j in keep], dtype=object)
            r = np.asarray([rows[j] for j in keep], dtype=np.int64)
            ok = np.ones(len(g), dtype=bool)
            empty = shapely.is_empty(g)
            for j in np.flatnonzero(empty):
                reasons[r[j]] = "empty geometry"
            ok &= ~empty
            big = shapely.get_num_coordinates(g) > self.max_vertices
            for j in np.flatnonzero(big & ok):
                reasons[r[j]] = "too large"
            ok &= ~big
            if ok.any():
                good = self._encode_safely(g[ok], data, r[ok])
                for j in r[ok][~good]:
                    reasons[j] = reasons[j] or "coordinates out of range"
                valid[r[ok][good]] = True
        for i, reason in enumerate(reasons):
            if reason is not None and not valid[i]:
                errors[reason] += 1
        return valid, errors

    def _precheck(self, lex: Any) -> tuple[str | None, str]:
        """Strip a CRS IRI / SRID prefix and refuse enormous literals before GEOS sees them."""
        if not isinstance(lex, str):
            return None, "invalid WKT"
        if len(lex) > self.max_chars:
            return None, "too large"
        text = lex.strip()
        if text.startswith("<"):
            end = text.find(">")
            if end < 0:
                return None, "invalid WKT"
            text = text[end + 1 :].lstrip()
        if text[:5].upper() == "SRID=":
            semi = text.find(";")
            if semi < 0:
                return None, "invalid WKT"
            text = text[semi + 1 :].lstrip()
        if not text:
            return None, "invalid WKT"
        # every vertex but the first is preceded by a comma: a cheap upper bound
        if text.count(",") + 1 > self.max_vertices:
            return None, "too large"
        if "\x00" in text:
            return None, "invalid WKT"
        # GEOS parses nesting recursively and crashes the process on very deep input
        if text.count("(") > MAX_DEPTH and _paren_depth(text) > MAX_DEPTH:
            return None, "too large"
        return text, ""

    def _encode_safely(self, geoms: np.ndarray, data: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
        """:meth:`_encode`, retried one geometry at a time if the batch fails (parse never raises)."""
        try:
            return self._encode(geoms, data, rows)
        except Exception:  # noqa: BLE001 - isolate the geometry that breaks the batch
            good = np.zeros(len(geoms), dtype=bool)
            for j in range(len(geoms)):
                try:
                    good[j] = self._encode(geoms[j : j + 1], data, rows[j : j + 1])[0]
                except Exception:  # noqa: BLE001
                    if data is not None:
                        data[rows[j]] = 0
            return good

    def _encode(self, geoms: np.ndarray, data: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
        """Fill ``data[rows]`` (unless ``data`` is None); return which geometries gave finite features."""
        seq = vertex_table(geoms)
        n_geom = len(geoms)
        gi, xy = seq["geom"], seq["xy"]
        with np.errstate(all="ignore"):
            cnt = np.bincount(gi, minlength=n_geom).astype(np.float64)
            mean = np.stack([np.bincount(gi, xy[:, k], minlength=n_geom) for k in (0, 1)], 1) / np.maximum(cnt, 1)[:, None]
            lo = np.full((n_geom, 2), np.inf)
            hi = np.full((n_geom, 2), -np.inf)
            np.minimum.at(lo, gi, xy)
            np.maximum.at(hi, gi, xy)
            half = np.max(hi - lo, axis=1) / 2.0
            scale = np.where(half > 0, half, 1.0)
            norm = (xy - mean[gi]) / scale[gi, None]
            # divide twice: half * half can underflow to 0 for tiny (but valid) extents
            side = np.where(half > 0, 2.0 * half, np.inf)
            area = shapely.area(geoms) / side / side
            glob = np.zeros((n_geom, GLOBAL_CHANNELS), dtype=np.float64)
            glob[:, 0] = np.log10(np.maximum(half, 1e-9))
            glob[:, 1:3] = np.sign(mean) * np.log1p(np.abs(mean))
            glob[:, 3] = np.log1p(seq["n_vertices"])
            glob[:, 4] = np.log1p(seq["n_parts"])
            glob[:, 5] = np.log1p(seq["n_holes"])
            glob[:, 6:9] = seq["dims"]
            glob[:, 9] = area
        finite = np.isfinite(glob).all(axis=1) & np.isfinite(mean).all(axis=1) & np.isfinite(half)
        bad_vertex = ~np.isfinite(norm).all(axis=1)
        if bad_vertex.any():
            finite[np.unique(gi[bad_vertex])] = False
        if data is None:  # only checking: validity is known, no sequences to build
            return finite & (cnt > 0)

        # position of each vertex in its sequence, resampling the long ones
        starts = np.searchsorted(gi, np.arange(n_geom))  # gi is sorted
        pos = np.arange(len(gi)) - starts[gi]
        P = self.max_points
        keep = pos < P
        long_geoms = np.flatnonzero(cnt > P)
        for g in long_geoms:
            a, b = starts[g], starts[g] + int(cnt[g])
            sel = _resample(seq["ring_start"][a:b], P)
            keep[a:b] = False
            keep[a + sel] = True
            pos[a + sel] = np.arange(len(sel))
            glob[g, 10] = 1.0
        # write straight into ``data`` (no [n, P, C] temporary); the caller zeroes the
        # rows of geometries that turn out not finite
        kr, kp = rows[gi[keep]], pos[keep]
        data[kr, kp, 0:2] = norm[keep]
        data[kr, kp, 2] = seq["ring_start"][keep]
        data[kr, kp, 3] = seq["part_start"][keep]
        data[kr, kp, 4] = seq["hole"][keep]
        data[kr, kp, MASK] = 1.0
        last = np.minimum(cnt, P).astype(np.int64) - 1
        has = last >= 0
        data[rows[has], last[has], 5] = 1.0
        data[rows, 0, SEQ_CHANNELS:] = glob
        return finite & has

    # ---------------------------------------------------------------- encoder
    def make_encoder(self, parsed: ParsedLiterals, out_dim: int, **options: Any) -> nn.Module:
        """A 1-D CNN over the vertex sequence plus the global features (options: ``channels``, ``kernel``)."""
        from rdf2mm.modalities.encoders.spatial import VertexCNN

        return VertexCNN(
            out_dim=out_dim,
            global_mean=parsed.meta.get("global_mean"),
            global_std=parsed.meta.get("global_std"),
            **options,
        )


# ------------------------------------------------------------------------- helpers
def _paren_depth(text: str) -> int:
    """Deepest parenthesis nesting in ``text``."""
    b = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    step = (b == ord("(")).astype(np.int32) - (b == ord(")")).astype(np.int32)
    return int(np.cumsum(step).max(initial=0))


def _from_wkt(texts: list[str], reasons: list[str | None], rows: list[int]) -> list[Any]:
    """Geometries (or None) for ``texts``: vectorised, falling back to one by one on error."""
    if not texts:
        return []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # "overflow encountered": caught as inf later
        try:
            out = list(shapely.from_wkt(np.asarray(texts, dtype=object), on_invalid="ignore"))
        except Exception:  # noqa: BLE001 - e.g. curves raise NotImplementedError for the whole array
            out = []
            for t in texts:
                try:
                    out.append(shapely.from_wkt(t, on_invalid="ignore"))
                except NotImplementedError:
                    out.append("unsupported")
                except Exception:  # noqa: BLE001
                    out.append(None)
    geoms: list[Any] = []
    for j, g in enumerate(out):
        if g is None:
            reasons[rows[j]] = "invalid WKT"
            geoms.append(None)
        elif isinstance(g, str):
            reasons[rows[j]] = "unsupported geometry"
            geoms.append(None)
        else:
            geoms.append(g)
    return geoms


def _flatten_parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Simple parts (point / line / ring / polygon) of every geometry, in document order."""
    parts, owner = geoms, np.arange(len(geoms))
    path = np.zeros((len(geoms), 0), dtype=np.int64)
    out_parts, out_owner, out_path = [], [], []
    while len(parts):
        multi = shapely.get_type_id(parts) >= _MULTI_MIN
        out_parts.append(parts[~multi])
        out_owner.append(owner[~multi])
        out_path.append(path[~multi])
        if not multi.any():
            break
        sub, parent = shapely.get_parts(parts[multi], return_index=True)
        # position of each child within its parent, for ordering
        first = np.searchsorted(parent, parent)
        child = np.arange(len(parent)) - first
        path = np.concatenate([path[multi][parent], child[:, None]], axis=1)
        parts, owner = sub, owner[multi][parent]
    depth = max(p.shape[1] for p in out_path)
    padded = [np.pad(p, ((0, 0), (0, depth - p.shape[1])), constant_values=-1) for p in out_path]
    all_parts = np.concatenate(out_parts)
    all_owner = np.concatenate(out_owner)
    all_path = np.concatenate(padded) if depth else np.zeros((len(all_parts), 0), dtype=np.int64)
    keys = [all_path[:, k] for k in range(depth - 1, -1, -1)] + [all_owner]
    order = np.lexsort(keys)
    parts_sorted = all_parts[order]
    owner_sorted = all_owner[order]
    nonempty = ~shapely.is_empty(parts_sorted)
    return parts_sorted[nonempty], owner_sorted[nonempty]


def vertex_table(geoms: np.ndarray) -> dict[str, np.ndarray]:
    """All vertices of ``geoms`` in sequence order, with their markers and per-geometry counts."""
    n_geom = len(geoms)
    parts, owner = _flatten_parts(geoms)
    types = shapely.get_type_id(parts)
    dims = np.zeros((n_geom, 3))
    for t, d in _DIM.items():
        dims[owner[types == t], d] = 1.0
    n_parts = np.bincount(owner, minlength=n_geom)

    # rings: one per point / line, exterior + interiors per polygon
    is_poly = types == _POLYGON
    poly_idx = np.flatnonzero(is_poly)
    rings, ring_parent = shapely.get_rings(parts[is_poly], return_index=True)
    ring_no = np.arange(len(ring_parent)) - np.searchsorted(ring_parent, ring_parent)
    other = np.flatnonzero(~is_poly)
    all_rings = np.concatenate([parts[other], rings])
    ring_part = np.concatenate([other, poly_idx[ring_parent]])
    ring_num = np.concatenate([np.zeros(len(other), np.int64), ring_no])
    closed = np.concatenate([types[other] == _LINEARRING, np.ones(len(rings), bool)])
    order = np.lexsort([ring_num, ring_part])
    all_rings, ring_part, ring_num, closed = all_rings[order], ring_part[order], ring_num[order], closed[order]
    n_holes = np.bincount(owner[ring_part[ring_num > 0]], minlength=n_geom) if len(ring_part) else np.zeros(n_geom, np.int64)

    xy, ri = shapely.get_coordinates(all_rings, return_index=True)
    counts = np.bincount(ri, minlength=len(all_rings))
    n_vertices = np.bincount(owner[ring_part[ri]], minlength=n_geom) if len(ri) else np.zeros(n_geom, np.int64)
    # drop the closing vertex of closed rings (it repeats the first)
    ends = np.cumsum(counts) - 1
    first = ends - counts + 1
    drop = np.zeros(len(xy), dtype=bool)
    closable = closed & (counts > 1)
    drop[ends[closable]] = (xy[ends[closable]] == xy[first[closable]]).all(axis=1)
    keep = ~drop
    xy, ri = xy[keep], ri[keep]
    ring_start = np.zeros(len(ri), dtype=np.float32)
    if len(ri):
        ring_start[np.r_[True, ri[1:] != ri[:-1]]] = 1.0
    part_of = ring_part[ri]
    part_start = ring_start * (ring_num[ri] == 0)
    hole = (ring_num[ri] > 0).astype(np.float32)
    return {
        "geom": owner[part_of],
        "xy": xy.astype(np.float64),
        "ring_start": ring_start,
        "part_start": part_start.astype(np.float32),
        "hole": hole,
        "n_vertices": n_vertices,
        "n_parts": n_parts,
        "n_holes": n_holes,
        "dims": dims,
    }


def _global_stats(data: np.ndarray, valid: np.ndarray) -> tuple[list[float], list[float]]:
    """Mean and std of the global features over the valid rows (std 1 where constant)."""
    if not valid.any():
        return [0.0] * GLOBAL_CHANNELS, [1.0] * GLOBAL_CHANNELS
    g = data[valid, 0, SEQ_CHANNELS:].astype(np.float64)
    mean = g.mean(axis=0)
    std = g.std(axis=0)
    std = np.where(std > 1e-6, std, 1.0)
    return [float(v) for v in mean], [float(v) for v in std]


def _resample(ring_start: np.ndarray, budget: int) -> np.ndarray:
    """Indices of ``budget`` vertices: ring starts first (as many as fit), the rest evenly spaced."""
    starts = np.flatnonzero(ring_start > 0)[:budget]
    rest = np.setdiff1d(np.arange(len(ring_start)), starts, assume_unique=True)
    room = budget - len(starts)
    if room > 0 and len(rest):
        pick = rest[np.unique(np.round(np.linspace(0, len(rest) - 1, min(room, len(rest)))).astype(np.int64))]
        starts = np.concatenate([starts, pick])
    return np.sort(starts)
