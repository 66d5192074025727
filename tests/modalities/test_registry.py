"""Datatype -> modality table, TOML overrides, modality lookup, the --modalities option."""
from __future__ import annotations

from pathlib import Path

import pytest

from rdf2mm.errors import InputError, UsageError
from rdf2mm.modalities.registry import (
    MODALITY_NAMES,
    ModalityMap,
    get_modality,
    parse_modalities_option,
)

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

# Written out independently of rdf2mm.modalities.xsd, so a typo there fails here.
EXPECTED = {
    "numeric": [XSD + t for t in (
        "decimal integer int long short byte nonNegativeInteger nonPositiveInteger negativeInteger "
        "positiveInteger unsignedLong unsignedInt unsignedShort unsignedByte double float"
    ).split()],
    "temporal": [XSD + t for t in "date dateTime dateTimeStamp gYear gYearMonth gMonthDay gMonth gDay time".split()],
    "textual": [XSD + t for t in (
        "string normalizedString token language Name NCName NMTOKEN ID IDREF ENTITY anyURI"
    ).split()] + [RDF + "langString"],
    "visual": ["http://kgbench.info/dt#base64Image", XSD + "base64Binary", XSD + "b64string"],
    "spatial": [
        "http://www.opengis.net/ont/geosparql#wktLiteral",
        "http://www.opengis.net/def/dataType/OGC-SF/1.0/wktLiteral",
        "http://www.opengis.net/ont/sf#wktLiteral",
        "http://www.openlinksw.com/schemas/virtrdf#Geometry",
    ],
    "boolean": [XSD + "boolean"],
}


@pytest.mark.parametrize("modality", MODALITY_NAMES)
def test_default_table(modality: str) -> None:
    mm = ModalityMap()
    for dt in EXPECTED[modality]:
        assert mm.modality_of(dt) == modality, dt


def test_unknown_and_near_miss_datatypes_are_other() -> None:
    mm = ModalityMap()
    for dt in ("http://example.org/dt#celsius", XSD + "Integer", XSD + "hexBinary", XSD + "duration",
               "https://www.w3.org/2001/XMLSchema#integer", RDF + "HTML"):
        assert mm.modality_of(dt) == "other", dt
    assert mm.modality_of("") == "textual"  # a plain literal is xsd:string


def test_modality_names() -> None:
    assert MODALITY_NAMES == ("numeric", "temporal", "textual", "visual", "spatial", "boolean")


def test_with_overrides_returns_new_map() -> None:
    base = ModalityMap()
    new = base.with_overrides({"http://ex.org/c": "numeric", XSD + "anyURI": "other", XSD + "gYear": "Numeric"})
    assert new.modality_of("http://ex.org/c") == "numeric"
    assert new.modality_of(XSD + "anyURI") == "other"
    assert new.modality_of(XSD + "gYear") == "numeric"
    assert base.modality_of("http://ex.org/c") == "other" and base.modality_of(XSD + "anyURI") == "textual"
    with pytest.raises(InputError, match="not a modality"):
        base.with_overrides({"http://ex.org/c": "audio"})


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "map.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_from_toml_all_key_forms(tmp_path: Path) -> None:
    path = _write(tmp_path, '''
[prefixes]
ex = "http://example.org/dt#"

[datatypes]
"http://example.org/full#iri" = "numeric"
"<http://example.org/dt#when>" = "temporal"
"ex:celsius" = "numeric"
"xsd:anyURI" = "other"        # exclude
"urn:x-dt:flag" = "boolean"

[modalities]
textual = ["ex:label", "ex:comment"]
spatial = "ex:shape"
''')
    mm = ModalityMap.from_toml(path)
    assert mm.modality_of("http://example.org/full#iri") == "numeric"
    assert mm.modality_of("http://example.org/dt#when") == "temporal"
    assert mm.modality_of("http://example.org/dt#celsius") == "numeric"
    assert mm.modality_of(XSD + "anyURI") == "other"
    assert mm.modality_of("urn:x-dt:flag") == "boolean"
    assert mm.modality_of("http://example.org/dt#label") == "textual"
    assert mm.modality_of("http://example.org/dt#comment") == "textual"
    assert mm.modality_of("http://example.org/dt#shape") == "spatial"
    assert mm.modality_of(XSD + "double") == "numeric"  # defaults kept
    assert ModalityMap.from_toml(_write(tmp_path, "")) == ModalityMap()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[datatypes]\n"http://ex.org/a" = "audio"\n', "not a modality"),
        ('[datatypes]\n"http://ex.org/a" = 3\n', "not a modality"),
        ('[datatypes]\n"ex:a" = "numeric"\n', "prefix 'ex' is not declared"),
        ('[datatypes]\n"celsius" = "numeric"\n', "not an IRI"),
        ('[datatype]\n"http://ex.org/a" = "numeric"\n', "unknown table"),
        ('[datatypes\n', "invalid TOML"),
        ('datatypes = 3\n', "must be a table"),
        ('[datatypes]\n"http://ex.org/a" = "numeric"\n[modalities]\ntextual = ["<http://ex.org/a>"]\n',
         "mapped to both"),
        ('[modalities]\nsound = ["http://ex.org/a"]\n', "not a modality"),
        ('[modalities]\ntextual = [1]\n', "list of datatype IRIs"),
        ('[prefixes]\n"e x" = "http://ex.org/"\n', "prefix name"),
    ],
)
def test_from_toml_errors_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=message) as info:
        ModalityMap.from_toml(path)
    assert str(path) in info.value.message
    assert info.value.exit_code == 3


def test_from_toml_unreadable(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        ModalityMap.from_toml(tmp_path / "missing.toml")
    with pytest.raises(InputError, match="directory"):
        ModalityMap.from_toml(tmp_path)
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'[datatypes]\n"http://ex.org/\xe9" = "numeric"\n')
    with pytest.raises(InputError, match=str(bad)):
        ModalityMap.from_toml(bad)


@pytest.mark.parametrize("name", MODALITY_NAMES)
def test_get_modality(name: str) -> None:
    modality = get_modality(name)
    assert modality.name == name


def test_get_modality_options_and_unknown() -> None:
    assert get_modality("numeric", scaling="minmax").scaling == "minmax"  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="unknown numeric scaling"):
        get_modality("numeric", scaling="zscore")
    with pytest.raises(UsageError, match="unknown modality 'audio'"):
        get_modality("audio")


def test_parse_modalities_option() -> None:
    assert parse_modalities_option("all") == MODALITY_NAMES
    assert parse_modalities_option(" ALL ") == MODALITY_NAMES
    assert parse_modalities_option("none") == ()
    assert parse_modalities_option("") == ()
    assert parse_modalities_option("temporal, numeric") == ("numeric", "temporal")
    assert parse_modalities_option("boolean,boolean,textual,") == ("textual", "boolean")
    for bad in ("numbers", "numeric,all", "none,textual", ",", "numeric;temporal"):
        with pytest.raises(UsageError, match="--modalities"):
            parse_modalities_option(bad)
