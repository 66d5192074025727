"""Datatype IRI constants: XSD built-ins, RDF, and the image / geometry types met in the wild.

Only names live here (no logic), so every module can import them cheaply.
"""
from __future__ import annotations

from rdf2mm.vocab import GEO, KGB, RDF, XSD

# ---------------------------------------------------------------- numeric
XSD_DECIMAL = XSD + "decimal"
XSD_INTEGER = XSD + "integer"
XSD_LONG = XSD + "long"
XSD_INT = XSD + "int"
XSD_SHORT = XSD + "short"
XSD_BYTE = XSD + "byte"
XSD_NON_NEGATIVE_INTEGER = XSD + "nonNegativeInteger"
XSD_NON_POSITIVE_INTEGER = XSD + "nonPositiveInteger"
XSD_NEGATIVE_INTEGER = XSD + "negativeInteger"
XSD_POSITIVE_INTEGER = XSD + "positiveInteger"
XSD_UNSIGNED_LONG = XSD + "unsignedLong"
XSD_UNSIGNED_INT = XSD + "unsignedInt"
XSD_UNSIGNED_SHORT = XSD + "unsignedShort"
XSD_UNSIGNED_BYTE = XSD + "unsignedByte"
XSD_DOUBLE = XSD + "double"
XSD_FLOAT = XSD + "float"

#: inclusive value range of each integer type (None = unbounded on that side)
INTEGER_RANGES: dict[str, tuple[int | None, int | None]] = {
    XSD_INTEGER: (None, None),
    XSD_LONG: (-(2**63), 2**63 - 1),
    XSD_INT: (-(2**31), 2**31 - 1),
    XSD_SHORT: (-(2**15), 2**15 - 1),
    XSD_BYTE: (-(2**7), 2**7 - 1),
    XSD_NON_NEGATIVE_INTEGER: (0, None),
    XSD_NON_POSITIVE_INTEGER: (None, 0),
    XSD_NEGATIVE_INTEGER: (None, -1),
    XSD_POSITIVE_INTEGER: (1, None),
    XSD_UNSIGNED_LONG: (0, 2**64 - 1),
    XSD_UNSIGNED_INT: (0, 2**32 - 1),
    XSD_UNSIGNED_SHORT: (0, 2**16 - 1),
    XSD_UNSIGNED_BYTE: (0, 2**8 - 1),
}
FLOATING_DATATYPES = (XSD_DOUBLE, XSD_FLOAT)
NUMERIC_DATATYPES = (XSD_DECIMAL, *INTEGER_RANGES, *FLOATING_DATATYPES)

# ---------------------------------------------------------------- temporal
XSD_DATE = XSD + "date"
XSD_DATETIME = XSD + "dateTime"
XSD_DATETIMESTAMP = XSD + "dateTimeStamp"
XSD_GYEAR = XSD + "gYear"
XSD_GYEARMONTH = XSD + "gYearMonth"
XSD_GMONTHDAY = XSD + "gMonthDay"
XSD_GMONTH = XSD + "gMonth"
XSD_GDAY = XSD + "gDay"
XSD_TIME = XSD + "time"
TEMPORAL_DATATYPES = (
    XSD_DATE, XSD_DATETIME, XSD_DATETIMESTAMP, XSD_GYEAR, XSD_GYEARMONTH,
    XSD_GMONTHDAY, XSD_GMONTH, XSD_GDAY, XSD_TIME,
)

# ---------------------------------------------------------------- textual
XSD_STRING = XSD + "string"
XSD_ANYURI = XSD + "anyURI"
RDF_LANGSTRING = RDF + "langString"
STRING_SUBTYPES = tuple(
    XSD + n for n in ("normalizedString", "token", "language", "Name", "NCName", "NMTOKEN", "ID", "IDREF", "ENTITY")
)
# anyURI is text on purpose: rdf2mm never dereferences IRIs, but their words carry signal.
TEXTUAL_DATATYPES = (XSD_STRING, *STRING_SUBTYPES, RDF_LANGSTRING, XSD_ANYURI)

# ---------------------------------------------------------------- visual
KGBENCH_IMAGE = KGB + "base64Image"
XSD_BASE64 = XSD + "base64Binary"
XSD_B64STRING = XSD + "b64string"  # not an XSD type; older MR-GCN data uses it for images
VISUAL_DATATYPES = (KGBENCH_IMAGE, XSD_BASE64, XSD_B64STRING)

# ---------------------------------------------------------------- spatial
GEO_WKT = GEO + "wktLiteral"
SPATIAL_DATATYPES = (
    GEO_WKT,
    "http://www.opengis.net/def/dataType/OGC-SF/1.0/wktLiteral",
    "http://www.opengis.net/ont/sf#wktLiteral",
    "http://www.opengis.net/def/geosparql/wktLiteral",
    "http://www.openlinksw.com/schemas/virtrdf#Geometry",
)

# ---------------------------------------------------------------- boolean
XSD_BOOLEAN = XSD + "boolean"
BOOLEAN_DATATYPES = (XSD_BOOLEAN,)
