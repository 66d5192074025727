"""Which modality a datatype belongs to, and the modality classes by name.

The default table (:data:`DEFAULT_DATATYPES`) follows the XSD type hierarchy; anything
not in it is ``"other"`` (the literal stays a plain node, embedded by its datatype only).
Users add or override rules with a TOML file (``--modality-map``)::

    # Optional: prefixes for the keys below (xsd, rdf and geo are predeclared).
    [prefixes]
    ex = "http://example.org/dt#"

    # datatype = modality (numeric, temporal, textual, visual, spatial, boolean or other)
    [datatypes]
    "ex:celsius" = "numeric"
    "<http://example.org/dt#when>" = "temporal"
    "xsd:anyURI" = "other"          # "other" excludes a datatype from every encoder

    # The same rules may also be listed per modality, whichever reads better:
    [modalities]
    textual = ["ex:label", "ex:comment"]

A key is a full IRI (optionally in ``<...>``) or ``prefix:local`` with a declared prefix.
Modality classes are imported lazily, so using the table never pulls in torch vision or
sentence-transformers code.
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from rdf2mm.errors import InputError, UsageError
from rdf2mm.modalities import xsd
from rdf2mm.modalities.base import Modality

MODALITY_NAMES: tuple[str, ...] = ("numeric", "temporal", "textual", "visual", "spatial", "boolean")
OTHER = "other"
#: values a datatype may map to
TARGETS: tuple[str, ...] = (*MODALITY_NAMES, OTHER)

DEFAULT_DATATYPES: dict[str, str] = {
    **{dt: "numeric" for dt in xsd.NUMERIC_DATATYPES},
    **{dt: "temporal" for dt in xsd.TEMPORAL_DATATYPES},
    **{dt: "textual" for dt in xsd.TEXTUAL_DATATYPES},
    **{dt: "visual" for dt in xsd.VISUAL_DATATYPES},
    **{dt: "spatial" for dt in xsd.SPATIAL_DATATYPES},
    **{dt: "boolean" for dt in xsd.BOOLEAN_DATATYPES},
    # RDF 1.1 plain literals are xsd:string; a reader that leaves the datatype empty means that.
    "": "textual",
}

#: predeclared prefixes for TOML keys
DEFAULT_PREFIXES: dict[str, str] = {"xsd": xsd.XSD, "rdf": xsd.RDF, "geo": xsd.GEO}

_CLASSES: dict[str, tuple[str, str]] = {
    "numeric": ("rdf2mm.modalities.numeric", "NumericModality"),
    "temporal": ("rdf2mm.modalities.temporal", "TemporalModality"),
    "textual": ("rdf2mm.modalities.textual", "TextualModality"),
    "visual": ("rdf2mm.modalities.visual", "VisualModality"),
    "spatial": ("rdf2mm.modalities.spatial", "SpatialModality"),
    "boolean": ("rdf2mm.modalities.boolean", "BooleanModality"),
}

_PREFIX_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


class ModalityMap:
    """An immutable datatype-IRI -> modality table (defaults plus user rules)."""

    __slots__ = ("_table",)

    def __init__(self, table: Mapping[str, str] | None = None) -> None:
        """The default table, or exactly ``table`` when given (values are checked)."""
        if table is None:
            self._table = dict(DEFAULT_DATATYPES)
        else:
            self._table = {str(k): _check_target(v, str(k), None) for k, v in table.items()}

    def modality_of(self, datatype_iri: str) -> str:
        """The modality name of a datatype IRI, or ``"other"``."""
        return self._table.get(datatype_iri, OTHER)

    def with_overrides(self, mapping: Mapping[str, str]) -> ModalityMap:
        """A new map with ``mapping`` (full IRI -> modality or ``"other"``) added on top."""
        new = ModalityMap.__new__(ModalityMap)
        new._table = dict(self._table)
        for iri, target in mapping.items():
            new._table[str(iri)] = _check_target(target, str(iri), None)
        return new

    @classmethod
    def from_toml(cls, path: str | Path, base: ModalityMap | None = None) -> ModalityMap:
        """Read user rules from a TOML file (format in the module docstring) over ``base`` (default table)."""
        return (base or cls()).with_overrides(read_mapping_toml(path))

    def as_dict(self) -> dict[str, str]:
        """A copy of the full table (for reports and run records)."""
        return dict(self._table)

    def datatypes_of(self, modality: str) -> list[str]:
        """Every datatype IRI mapped to ``modality``."""
        return sorted(dt for dt, m in self._table.items() if m == modality)

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModalityMap) and self._table == other._table

    def __repr__(self) -> str:
        return f"ModalityMap({len(self._table)} datatypes)"


def read_mapping_toml(path: str | Path) -> dict[str, str]:
    """The ``{datatype IRI: modality}`` rules of a TOML mapping file; errors name the file."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # -sig: tolerate a byte-order mark
    except FileNotFoundError:
        raise InputError(f"modality map {path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"modality map {path}: is a directory, expected a TOML file") from None
    except OSError as exc:
        raise InputError(f"modality map {path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"modality map {path}: not UTF-8 text ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"modality map {path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"modality map {path}: not UTF-8 text") from None

    unknown = set(doc) - {"prefixes", "datatypes", "modalities"}
    if unknown:
        raise InputError(
            f"modality map {path}: unknown table(s) {', '.join(sorted(map(repr, unknown)))}; "
            "expected the tables 'prefixes', 'datatypes' and/or 'modalities'"
        )

    prefixes = dict(DEFAULT_PREFIXES)
    for name, ns in _table(doc, "prefixes", path).items():
        if not isinstance(ns, str) or not _PREFIX_NAME.match(name):
            raise InputError(f"modality map {path}: prefixes table: {name!r} must map a prefix name to an IRI string")
        prefixes[name] = ns

    rules: dict[str, str] = {}
    where: dict[str, str] = {}

    def add(key: str, target: Any, origin: str) -> None:
        iri = _expand(key, prefixes, path)
        target = _check_target(target, key, path)
        if iri in rules and rules[iri] != target:
            raise InputError(
                f"modality map {path}: {iri} is mapped to both {rules[iri]!r} ({where[iri]}) and {target!r} ({origin})"
            )
        rules[iri], where[iri] = target, origin

    for key, target in _table(doc, "datatypes", path).items():
        add(key, target, "datatypes table")
    for target, keys in _table(doc, "modalities", path).items():
        _check_target(target, f"modalities table: {target}", path)
        if isinstance(keys, str):
            keys = [keys]
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise InputError(f"modality map {path}: modalities table: {target} must be a list of datatype IRIs")
        for key in keys:
            add(key, target, "modalities table")
    return rules


def get_modality(name: str, **options: Any) -> Modality:
    """An instance of the modality called ``name``, built with keyword ``options``."""
    try:
        module_name, class_name = _CLASSES[name]
    except (KeyError, TypeError):
        raise UsageError(f"unknown modality {name!r}; choose from {', '.join(MODALITY_NAMES)}") from None
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(**options)


def parse_modalities_option(value: str | None) -> tuple[str, ...]:
    """``all`` | ``none`` | a comma-separated list, as the six names in canonical order.

    Canonical order makes ``temporal,numeric`` and ``numeric,temporal`` the same run.
    """
    text = "all" if value is None else str(value).strip().lower()
    if text == "all":
        return MODALITY_NAMES
    if text in ("none", ""):
        return ()
    names = [p.strip() for p in text.split(",") if p.strip()]
    bad = [n for n in names if n not in MODALITY_NAMES]
    if bad or not names:
        hint = " ('all' and 'none' cannot be combined with names)" if {"all", "none"} & set(bad) else ""
        raise UsageError(
            f"--modalities: unknown modality {', '.join(map(repr, bad)) or repr(value)}{hint}; "
            f"use all, none, or a comma-separated list of {', '.join(MODALITY_NAMES)}"
        )
    chosen = set(names)
    return tuple(n for n in MODALITY_NAMES if n in chosen)


# ---------------------------------------------------------------- helpers
def _check_target(target: Any, key: str, path: Path | None) -> str:
    where = f"modality map {path}: " if path is not None else "modality map: "
    if not isinstance(target, str) or target.strip().lower() not in TARGETS:
        raise InputError(
            f"{where}{key} -> {target!r} is not a modality; use one of {', '.join(TARGETS)} "
            "('other' excludes the datatype from every encoder)"
        )
    return target.strip().lower()


def _table(doc: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise InputError(f"modality map {path}: {name!r} must be a table")
    return value


def _expand(key: str, prefixes: dict[str, str], path: Path) -> str:
    """A full IRI from ``<iri>``, ``prefix:local`` or an absolute IRI."""
    key = key.strip()
    if key.startswith("<") and key.endswith(">"):
        return key[1:-1]
    prefix, colon, local = key.partition(":")
    if colon and prefix in prefixes:
        return prefixes[prefix] + local
    if colon and (local.startswith("//") or prefix.lower() in ("urn", "tag", "mailto")):
        return key
    raise InputError(
        f"modality map {path}: cannot read datatype {key!r}: "
        + (f"prefix {prefix!r} is not declared in the prefixes table" if colon else "not an IRI")
        + "; write the full IRI (e.g. \"<http://example.org/dt#x>\") or declare the prefix"
    )
