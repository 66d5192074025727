"""Write results as RDF and Parquet: vector literals, safe terms, skolem IRIs, files.

Vectors become literals in one of two forms:

* ``tensor`` (default): the rdf-tensor datatype, JSON ``{"type":"float32","shape":[d],
  "data":[...]}``. Each value is written as the shortest decimal that reads back as the
  same float32; every value is checked at write time by parsing it back through a
  correctly rounded float64 parser, and the few that would not survive that double
  rounding are written as the exact float64 value of the float32 instead. A reader
  that does ``float32(float(text))`` therefore gets the model's bits exactly.
* ``base64``: ``r2m:base64Float32``, little-endian float32 bytes, about 4x smaller.

Terms come from pyoxigraph, so IRIs are validated and literals escaped by the same code
that parses RDF: an entity IRI or literal crafted to break out of a query or a file
cannot (``NamedNode`` refuses ``<>" {}|^`\\`` and spaces).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pyoxigraph as ox

from rdf2mm import vocab
from rdf2mm.errors import DataError, InputError, UsageError
from rdf2mm.io.atomic import atomic_path

__all__ = [
    "RDF_FORMATS",
    "VECTOR_FORMATS",
    "tensor_lexicals",
    "base64_lexicals",
    "vector_literals",
    "parse_vector",
    "skolem_iri",
    "parse_term",
    "double",
    "integer",
    "write_rdf",
    "write_embeddings_parquet",
    "write_table_parquet",
]

#: --output name -> (pyoxigraph format, file suffix, holds named graphs)
RDF_FORMATS: dict[str, tuple[ox.RdfFormat, str, bool]] = {
    "nt": (ox.RdfFormat.N_TRIPLES, ".nt", False),
    "ttl": (ox.RdfFormat.TURTLE, ".ttl", False),
    "trig": (ox.RdfFormat.TRIG, ".trig", True),
    "nq": (ox.RdfFormat.N_QUADS, ".nq", True),
}
VECTOR_FORMATS = ("tensor", "base64")

_TENSOR_DT = ox.NamedNode(vocab.RDF_TENSOR)
_BASE64_DT = ox.NamedNode(vocab.base64Float32)
_XSD_DOUBLE = ox.NamedNode(vocab.XSD + "double")
_XSD_INTEGER = ox.NamedNode(vocab.XSD + "integer")
_XSD_DECIMAL = ox.NamedNode(vocab.XSD + "decimal")


# ------------------------------------------------------------------ vectors
def _as_matrix(matrix: Any) -> np.ndarray:
    m = np.ascontiguousarray(np.asarray(matrix), dtype=np.float32)
    if m.ndim != 2:
        raise DataError(f"embeddings must be a matrix [n, d], got shape {list(m.shape)}")
    if not np.isfinite(m).all():
        bad = int((~np.isfinite(m)).any(axis=1).sum())
        raise DataError(f"{bad} embedding row(s) hold NaN or infinity; refusing to export them")
    return m


def float32_strings(values: np.ndarray) -> Any:
    """Decimal strings (an Arrow string array) that read back via float64 as exactly these float32s."""
    import pyarrow as pa
    import pyarrow.compute as pc

    flat = np.ascontiguousarray(values, dtype=np.float32).ravel()
    text = pc.cast(pa.array(flat), pa.string())  # shortest float32 repr (double-conversion)
    # JSON readers take "-0" for the integer 0 and lose the sign.
    text = pc.if_else(pc.equal(text, "-0"), "-0.0", text)
    back = pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float32)
    # Compare bits, not values: -0.0 must stay -0.0.
    bad = np.flatnonzero(back.view(np.uint32) != flat.view(np.uint32))
    if len(bad):
        # the float32 as an exact float64 always round-trips
        patched = text.to_pylist()
        for i in bad.tolist():
            patched[i] = repr(float(flat[i]))
        text = pa.array(patched, pa.string())
    return text


def tensor_lexicals(matrix: Any) -> list[str]:
    """rdf-tensor JSON lexical forms, one per row of ``matrix``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    m = _as_matrix(matrix)
    n, d = m.shape
    head = '{"type":"float32","shape":[%d],"data":[' % d
    if d == 0:
        return [head + "]}"] * n
    strings = float32_strings(m)
    rows = pa.ListArray.from_arrays(pa.array(np.arange(0, n * d + 1, d, dtype=np.int32)), strings)
    joined = pc.binary_join(rows, ",")
    return pc.binary_join_element_wise(head, joined, "]}", "").to_pylist()


def base64_lexicals(matrix: Any) -> list[str]:
    """``r2m:base64Float32`` lexical forms (little-endian float32), one per row."""
    m = _as_matrix(matrix).astype("<f4", copy=False)
    return [base64.b64encode(row.tobytes()).decode("ascii") for row in m]


def vector_literals(matrix: Any, form: str = "tensor") -> list[ox.Literal]:
    """One literal per row, in the rdf-tensor (``tensor``) or ``base64`` form."""
    if form == "tensor":
        return [ox.Literal(s, datatype=_TENSOR_DT) for s in tensor_lexicals(matrix)]
    if form == "base64":
        return [ox.Literal(s, datatype=_BASE64_DT) for s in base64_lexicals(matrix)]
    raise UsageError(f"--vectors must be one of {', '.join(VECTOR_FORMATS)}, not {form!r}")


def parse_vector(lexical: str, datatype: str | None = None) -> np.ndarray:
    """A float32 vector from a tensor JSON or base64 literal (the datatype decides; guessed if None)."""
    dt = (datatype or "").strip("<>")
    if dt == vocab.base64Float32 or (not dt and not lexical.lstrip().startswith("{")):
        try:
            raw = base64.b64decode(lexical, validate=True)
        except (binascii.Error, ValueError):
            raise DataError(f"not a base64 float32 vector: {lexical[:40]!r}") from None
        if len(raw) % 4:
            raise DataError(f"base64 vector of {len(raw)} bytes is not a whole number of float32 values")
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)
    try:
        obj = json.loads(lexical, parse_int=float)  # "-0" must stay negative zero
        data = np.asarray(obj["data"], dtype=np.float64)
        shape = [int(x) for x in obj.get("shape", [data.size])]
    except (ValueError, KeyError, TypeError):
        raise DataError(f"not an rdf-tensor literal: {lexical[:40]!r}") from None
    if int(np.prod(shape)) != data.size:
        raise DataError(f"rdf-tensor literal: shape {shape} does not match {data.size} values")
    return data.astype(np.float32).reshape(shape)


# ------------------------------------------------------------------ terms
def skolem_iri(label: str, fingerprint: str | None, base: str = vocab.DEFAULT_BASE) -> str:
    """The stable skolem IRI of blank node ``label`` (with or without ``_:``) of an input.

    Hash of the input fingerprint and the label, so re-exports of runs on the same input
    give the same IRIs and their vectors join back.
    """
    label = label[2:] if label.startswith("_:") else label
    digest = hashlib.sha256(f"{fingerprint or ''}\0{label}".encode("utf-8")).hexdigest()[:32]
    return f"{base.rstrip('/')}/.well-known/genid/{digest}"


def parse_term(text: str, skolem: Callable[[str], str] | None = None) -> ox.NamedNode | ox.Literal:
    """A pyoxigraph term from its N-Triples form (``<iri>``, ``_:b``, a literal) or a bare IRI.

    Blank nodes become IRIs through ``skolem`` (a label -> IRI function). Raises
    :class:`InputError` for text that is no valid term (e.g. a crafted IRI).
    """
    text = text.strip()
    try:
        if text.startswith("<") and text.endswith(">"):
            return ox.NamedNode(text[1:-1])
        if text.startswith("_:"):
            if skolem is None:
                raise InputError(f"blank node {text} needs a skolem function")
            return ox.NamedNode(skolem(text[2:]))
        if text.startswith('"'):
            quad = next(iter(ox.parse(f"<x:s> <x:p> {text} .\n", format=ox.RdfFormat.N_TRIPLES)))
            obj = quad.object
            if isinstance(obj, ox.Literal):
                return obj
            raise InputError(f"not a literal: {text[:80]!r}")
        return ox.NamedNode(text)
    except (ValueError, SyntaxError, StopIteration) as exc:
        raise InputError(f"not a valid RDF term: {text[:80]!r} ({exc})") from None


def double(x: float) -> ox.Literal:
    """An xsd:double literal (NaN and infinities in their XSD spelling)."""
    x = float(x)
    if math.isnan(x):
        lex = "NaN"
    elif math.isinf(x):
        lex = "INF" if x > 0 else "-INF"
    else:
        lex = repr(x)
    return ox.Literal(lex, datatype=_XSD_DOUBLE)


def integer(x: int) -> ox.Literal:
    return ox.Literal(str(int(x)), datatype=_XSD_INTEGER)


def rank_literal(x: float | str) -> ox.Literal:
    """A rank: ``xsd:integer`` when whole, else ``xsd:decimal`` (a realistic rank of a tie
    falls halfway, e.g. 2.5)."""
    value = float(x)
    if value.is_integer():
        return integer(int(value))
    return ox.Literal(repr(value), datatype=_XSD_DECIMAL)


# ------------------------------------------------------------------ files
def write_rdf(quads: Callable[[], Iterable[ox.Quad]], path: Path, fmt: str,
              prefixes: dict[str, str] | None = None) -> Path:
    """Serialise ``quads()`` to ``path`` in ``fmt`` (nt, ttl, trig, nq), atomically.

    Triple formats (nt, ttl) drop the graph name: the run IRI is still in the triples.
    """
    try:
        rdf_format, _suffix, has_graphs = RDF_FORMATS[fmt]
    except KeyError:
        raise UsageError(f"unknown RDF format {fmt!r}; choose from {', '.join(RDF_FORMATS)}") from None
    items: Iterable[Any] = quads() if has_graphs else (q.triple for q in quads())
    pfx = prefixes if rdf_format in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG) else None
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            ox.serialize(items, fh, rdf_format, prefixes=pfx)
    return path


def write_embeddings_parquet(path: Path, columns: dict[str, Sequence[Any]], matrix: Any,
                             metadata: dict[str, str] | None = None) -> Path:
    """Parquet with the given string columns plus ``embedding``: fixed-size list of float32."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    m = _as_matrix(matrix)
    n, d = m.shape
    emb = pa.FixedSizeListArray.from_arrays(pa.array(m.ravel(), pa.float32()), d)
    arrays = {k: pa.array(list(v), pa.string()) for k, v in columns.items()}
    table = pa.table({**arrays, "embedding": emb})
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


def write_table_parquet(path: Path, columns: dict[str, Any], metadata: dict[str, str] | None = None) -> Path:
    """A plain column table as Parquet, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(columns)
    if metadata:
        table = table.replace_schema_metadata(metadata)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path
