"""Parameters of the synthetic generator: namespaces, datatypes, sizes, validation."""
from __future__ import annotations

import base64
import math
from typing import Any, Iterable

import numpy as np

from rdf2mm.errors import UsageError
from rdf2mm.vocab import GEO, KGB, RDF, XSD

EX = "http://example.org/rdf2mm/synth#"

TARGET_CLASS = EX + "Item"
TARGET_PREDICATE = EX + "hasClass"
MODALITIES: tuple[str, ...] = ("numeric", "temporal", "textual", "visual", "spatial", "boolean")

MAX_CLASSES = 50  # polygons carry 3 + class vertices; keep rings under ~64 points
#: image styles: "blob" (a class-coloured, class-shaped blob: shape and hue both carry the
#: class) or "shapes" (the class is the kind of shape only; colour, position and size random)
IMAGE_STYLES = ("blob", "shapes")
#: the kinds of shape of the "shapes" style, one per class (so at most this many classes)
SHAPES = ("disk", "square", "triangle", "cross", "ring", "diamond")
CHUNK_ITEMS = 10_000  # items per written chunk: bounds memory, fixed so output is seed-stable
ENTITY_CHUNK = 200_000
IMAGE_BATCH = 2_000
GZIP_LEVEL = 3  # level 6 roughly halves throughput on 10^7-triple graphs for ~10% smaller files

# datatype IRI -> modality, for every datatype the generator writes
DATATYPE_MODALITY: dict[str, str] = {
    XSD + "decimal": "numeric",
    XSD + "integer": "numeric",
    XSD + "double": "numeric",
    XSD + "float": "numeric",
    XSD + "date": "temporal",
    XSD + "dateTime": "temporal",
    XSD + "gYear": "temporal",
    XSD + "string": "textual",
    RDF + "langString": "textual",
    KGB + "base64Image": "visual",
    GEO + "wktLiteral": "spatial",
    XSD + "boolean": "boolean",
}

# deliberately ill-typed lexical forms, per datatype (textual literals cannot be ill-typed)
_BAD: dict[str, list[str]] = {
    XSD + "decimal": ["abc", "1.2.3", "12,50", "--3", "n/a"],
    XSD + "integer": ["abc", "12.5", "1,000", "seven", "0x1F"],
    XSD + "double": ["abc", "1.2.3", "1,5e3", "e10x", "--1.0"],
    XSD + "float": ["abc", "1.2.3", "3,14", "NaNa", "1e"],
    XSD + "date": ["1990-02-30", "2001-02-29", "1999-13-01", "2010-04-31", "1985-00-10", "not a date"],
    XSD + "dateTime": ["1990-02-30T10:00:00", "1999-01-01T25:00:00", "2003-06-15T12:61:00", "2001-02-29T00:00:00", "yesterday"],
    XSD + "gYear": ["19x4", "MCMXC", "year", "12.5", "--1999"],
    XSD + "boolean": ["yes", "no", "TRUE", "maybe", "2"],
    # not base64 at all / bad padding / valid base64 of bytes that are no image
    KGB + "base64Image": [
        "@@not-base64@@",
        "abc",
        base64.urlsafe_b64encode(bytes(range(7, 55))).decode("ascii"),
    ],
    GEO + "wktLiteral": ["POLYGON ((0 0, 1 1, 1 0)", "POINT (abc def)", "CIRCLE (0 0, 5)", "POINT 1 2", "POLYGON 0 0"],
}

# (predicate local name, datatype IRI or None for plain / "lang" for language-tagged)
_ITEM_LITERALS: dict[str, list[tuple[str, str | None]]] = {
    "numeric": [("price", XSD + "decimal"), ("count", XSD + "integer"), ("score", XSD + "double"), ("weight", XSD + "float")],
    "temporal": [("date", XSD + "date"), ("timestamp", XSD + "dateTime"), ("era", XSD + "gYear")],
    "textual": [("description", XSD + "string"), ("title", None), ("note", "lang")],
    "visual": [("image", KGB + "base64Image")],
    "spatial": [("footprint", GEO + "wktLiteral"), ("location", GEO + "wktLiteral")],
    "boolean": [("flag", XSD + "boolean")],
}
_RELATIONS = ("inGroup", "hasTag", "relatedTo", "subGroupOf")
_ITEM_STRUCTURE_TRIPLES = 1 + 1 + 2 + 1  # type, inGroup, ~2 tags, relatedTo

# stream ids for SeedSequence: each part of the output draws from its own stream, so
# changing one part (e.g. max_images) does not reshuffle the others
_S_LABELS, _S_STRUCT, _S_LP, _S_GROUPS, _S_ITEMS = 1, 2, 3, 4, 5


def item_iri(i: int) -> str:
    """The IRI of item ``i``."""
    return f"{EX}item_{i}"


def class_iri(k: int) -> str:
    """The IRI of class ``k`` (object of the label triples)."""
    return f"{EX}class_{k}"


def parse_signal(signal: str | Iterable[str] | None, what: str = "signal") -> tuple[str, ...]:
    """Normalise a signal spec: ``"all"``, ``"none"``, ``"numeric,visual"`` or a list of names
    (``what``: the parameter, for the error message)."""
    if signal is None:
        return ()
    if isinstance(signal, str):
        text = signal.strip().lower()
        if text == "all":
            return MODALITIES
        if text in ("none", ""):
            return ()
        names = [s.strip() for s in text.split(",") if s.strip()]
    else:
        names = [str(s).strip().lower() for s in signal]
        if names == ["all"]:
            return MODALITIES
        if names == ["none"]:
            return ()
    unknown = [n for n in names if n not in MODALITIES]
    if "structure" in unknown:
        raise UsageError("structure is not a literal modality: use --structure-signal / structure_signal instead")
    if unknown:
        raise UsageError(f"unknown modality {', '.join(unknown)!s} in {what}; choose from {', '.join(MODALITIES)}, all or none")
    return tuple(m for m in MODALITIES if m in names)  # canonical order, duplicates dropped


# --------------------------------------------------------------------------- parameters


def _validate(**kw: Any) -> dict[str, Any]:
    def num(name: str, lo: float, hi: float) -> float:
        v = kw[name]
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise UsageError(f"{name} must be a number, got {v!r}") from None
        if not (lo <= f <= hi) or math.isnan(f):
            raise UsageError(f"{name} must be between {lo:g} and {hi:g}, got {v!r}")
        return f

    def integer(name: str, lo: int, hi: int | None = None) -> int:
        v = kw[name]
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise UsageError(f"{name} must be an integer, got {v!r}")
        if v < lo or (hi is not None and v > hi):
            bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            raise UsageError(f"{name} must be {bound}, got {v}")
        return int(v)

    def fractions(name: str) -> tuple[float, float, float]:
        v = kw[name]
        try:
            t = tuple(float(x) for x in v)
        except (TypeError, ValueError):
            raise UsageError(f"{name} must be three fractions train,valid,test, got {v!r}") from None
        if len(t) != 3 or any(x < 0 or math.isnan(x) for x in t) or abs(sum(t) - 1.0) > 1e-6 or t[0] <= 0:
            raise UsageError(f"{name} must be three non-negative fractions summing to 1 with train > 0, got {v!r}")
        return t  # type: ignore[return-value]

    p: dict[str, Any] = {
        "classes": integer("classes", 2, MAX_CLASSES),
        "seed": integer("seed", 0, 2**63 - 1),
        "image_size": integer("image_size", 8, 256),
        "max_images": integer("max_images", 0),
        "strength": num("strength", 0.0, 1.0),
        "structure_signal": num("structure_signal", 0.0, 1.0),
        "ill_typed": num("ill_typed", 0.0, 1.0),
        "link_strength": num("link_strength", 0.0, 1.0),
        "split": fractions("split"),
        "lp_split": fractions("lp_split"),
        "modalities": parse_signal(kw["modalities"], "modalities"),
        "compress": bool(kw["compress"]),
    }
    # a modality the items do not carry cannot carry the label
    p["signal"] = tuple(m for m in parse_signal(kw["signal"]) if m in p["modalities"])
    style = str(kw["image_style"]).lower()
    if style not in IMAGE_STYLES:
        raise UsageError(f"image_style must be {' or '.join(IMAGE_STYLES)}, got {kw['image_style']!r}")
    if style == "shapes" and p["classes"] > len(SHAPES):
        raise UsageError(f"image_style shapes draws {len(SHAPES)} kinds of shape ({', '.join(SHAPES)}): "
                         f"at most {len(SHAPES)} classes, got {p['classes']}")
    p["image_style"] = style
    fmt = str(kw["format"]).lower()
    if fmt in ("turtle",):
        fmt = "ttl"
    if fmt not in ("nt", "ttl"):
        raise UsageError(f"format must be nt or ttl, got {kw['format']!r}")
    p["format"] = fmt
    imgf = str(kw["image_format"]).lower()
    if imgf == "jpg":
        imgf = "jpeg"
    if imgf not in ("jpeg", "png"):
        raise UsageError(f"image_format must be jpeg or png, got {kw['image_format']!r}")
    p["image_format"] = imgf
    p["triples"] = integer("triples", 1)
    need = _estimate(10 * p["classes"], p["classes"], p["max_images"], p["modalities"])
    if p["triples"] < need:
        raise UsageError(
            f"triples={p['triples']} is too small for {p['classes']} classes: need at least {need} "
            f"(10 items per class)"
        )
    return p


def _sizes(n_items: int, k: int) -> tuple[int, int, int, int]:
    """(clusters, groups per (class, cluster), groups, tags) for ``n_items`` items."""
    c = int(min(64, max(2, round(math.sqrt(n_items) / 3))))
    m = max(1, round(n_items / (25 * k * c)))  # ~25 items per group
    tags_per_cluster = max(1, round(n_items / (10 * c)))  # ~2 tags per item, ~20 items per tag
    return c, m, k * c * m, c * tags_per_cluster


def _estimate(n_items: int, k: int, max_images: int, modalities: tuple[str, ...] = MODALITIES) -> int:
    _, _, g, t = _sizes(n_items, k)
    literals = sum(len(_ITEM_LITERALS[m]) for m in modalities if m != "visual")
    images = min(n_items, max_images) if "visual" in modalities else 0
    text, years = "textual" in modalities, "temporal" in modalities
    group = 2 + text + years  # type, subGroupOf, name (textual), founded (temporal)
    tag = 1 + text  # type, label (textual)
    return n_items * (_ITEM_STRUCTURE_TRIPLES + literals) + images + g * group + t * tag


def _plan_items(triples: int, k: int, max_images: int, modalities: tuple[str, ...] = MODALITIES) -> int:
    """The number of items whose expected triple count is closest to ``triples``."""
    def est(n: int) -> int:
        return _estimate(n, k, max_images, modalities)

    lo, hi = 1, max(2, triples)
    while lo < hi:  # smallest n with estimate >= triples (the estimate grows with n)
        mid = (lo + hi) // 2
        if est(mid) >= triples:
            hi = mid
        else:
            lo = mid + 1
    n = lo
    if n > 1 and abs(est(n - 1) - triples) < abs(est(n) - triples):
        n -= 1
    return max(n, 10 * k)


class GeneratorState:
    """What the parts of the generator share: its parameters, sizes and random streams."""

    p: dict[str, Any]  # validated parameters (see _validate)
    n: int  # items
    k: int  # classes
    c: int  # clusters
    m: int  # groups per (class, cluster)
    g: int  # groups
    t: int  # tags

    def rng(self, *stream: int) -> np.random.Generator:
        """The random stream ``stream`` (one of the ``_S_*`` ids, plus chunk numbers) of the seed."""
        return np.random.default_rng(np.random.SeedSequence([self.p["seed"], *stream]))
