"""Temporal literals: the nine XSD date/time types as one fixed-width feature vector.

Parsing follows the XSD 1.1 lexical rules after whitespace collapsing, with one
documented leniency: a year may have any number of digits (``"120"^^xsd:gYear``,
``"-0044"``, ``"12345"``), because real and synthetic graphs carry short years and the
value is unambiguous. Years beyond ±10^15 are refused ("year out of supported range").
Everything else is strict: months 01-12, days that exist in that month of that year
(proleptic Gregorian calendar; as in XSD 1.1, year 0000 is 1 BCE and a leap year),
hours 00-23 or ``24:00:00`` (end of day, encoded as midnight of the same date), minutes
and seconds below 60, timezones ``Z`` or ``±hh:mm`` within ±14:00, and a timezone is
required for ``xsd:dateTimeStamp``. The XSD 1.0 form ``--MM--`` of gMonth is accepted.
A datatype a user maps to ``temporal`` is parsed with the first XSD form that matches.

Every literal becomes :data:`WIDTH` float32 features (see :data:`FEATURES`): the year
split into era, century, decade and year-in-decade, a smooth continuous time, a
log-magnitude for huge years; month, day, weekday, hour, minute and second as (sin, cos)
points on circles; the timezone offset; and a presence mask per component, so that a
gMonth (no year) or a time (no date) is told apart from a zero. Components are encoded
in local time: the offset is a feature, not applied.
"""
from __future__ import annotations

import re
from collections import Counter
from itertools import compress
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

from rdf2mm.modalities import xsd
from rdf2mm.modalities.base import Modality, ParsedLiterals
from rdf2mm.modalities.numeric import rows_by_datatype

if TYPE_CHECKING:  # pragma: no cover - parsing must not import torch
    from torch import nn

XSD_WS = " \t\n\r"

FEATURES: tuple[str, ...] = (
    "era",  # +1 CE, -1 BCE (astronomical year <= 0)
    "century",  # tanh(floor(year / 100) / 20)
    "decade_sin", "decade_cos",  # decade within its century, period 10
    "year_sin", "year_cos",  # year within its decade, period 10
    "time",  # tanh((year + fraction of year - 2000) / 500): ordered, finest near the present
    "magnitude",  # sign(year) * log10(1 + |year|) / 15: tells 10^5 from 10^9
    "time_local",  # continuous time scaled robustly within its group (predicate), like numbers
    "month_sin", "month_cos",
    "day_sin", "day_cos",
    "weekday_sin", "weekday_cos",
    "hour_sin", "hour_cos",
    "minute_sin", "minute_cos",
    "second_sin", "second_cos",
    "tz_offset",  # minutes / 840, in [-1, 1]
    "has_year", "has_month", "has_day", "has_weekday", "has_time", "has_tz",
)
WIDTH = len(FEATURES)
_F = {name: i for i, name in enumerate(FEATURES)}
MAX_YEAR_DIGITS = 15

# Columns the regexes capture, in this order, for whichever parts a form has.
_YEAR = rf"(-?)([0-9]{{1,{MAX_YEAR_DIGITS}}})"  # longer years: refused, reason found on the slow path
_MD = r"([0-9]{2})"
_TIME = r"([0-9]{2}):([0-9]{2}):([0-9]{2}(?:\.[0-9]+)?)"
_TZ = r"(Z|[+-][0-9]{2}:[0-9]{2})"
_DT_COLS = ("sign", "year", "month", "day", "hour", "minute", "second", "tz")

# form name -> (pattern, captured columns)
_PATTERNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "dateTime": (f"{_YEAR}-{_MD}-{_MD}T{_TIME}{_TZ}?", _DT_COLS),
    "dateTimeStamp": (f"{_YEAR}-{_MD}-{_MD}T{_TIME}{_TZ}", _DT_COLS),
    "date": (f"{_YEAR}-{_MD}-{_MD}{_TZ}?", ("sign", "year", "month", "day", "tz")),
    "gYearMonth": (f"{_YEAR}-{_MD}{_TZ}?", ("sign", "year", "month", "tz")),
    "gYear": (f"{_YEAR}{_TZ}?", ("sign", "year", "tz")),
    "time": (f"{_TIME}{_TZ}?", ("hour", "minute", "second", "tz")),
    "gMonthDay": (f"--{_MD}-{_MD}{_TZ}?", ("month", "day", "tz")),
    "gDay": (f"---{_MD}{_TZ}?", ("day", "tz")),
    "gMonth": (f"--{_MD}(?:--)?{_TZ}?", ("month", "tz")),
}
_FORMS = {form: (re.compile(pat), cols) for form, (pat, cols) in _PATTERNS.items()}
# One pass over all lines joined by "\n": every line yields one tuple, all "" when it is
# not of the form. findall builds no match objects, so this is ~2x faster than fullmatch.
_LINES = {form: re.compile(f"^(?:{pat}|.*)$", re.MULTILINE) for form, (pat, _) in _PATTERNS.items()}
# For reasons only: the same forms with years of any length.
_LONG_YEAR = {form: re.compile(pat.replace(_YEAR, r"(-?)([0-9]+)")) for form, (pat, _) in _PATTERNS.items()}
_FORM_OF = {xsd.XSD + name: name for name in _FORMS}
#: order in which a non-XSD datatype's literals are tried
_GUESS_ORDER = ("dateTime", "date", "gYearMonth", "gYear", "time", "gMonthDay", "gDay", "gMonth")

_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)
_CUM_DAYS = np.concatenate([[0], np.cumsum(_MONTH_DAYS)[:-1]])


class TemporalModality(Modality):
    """XSD dates and times decomposed into bounded and cyclic features plus presence masks."""

    name: ClassVar[str] = "temporal"

    def parse(self, lexical: Sequence[str], datatypes: Sequence[str], groups: np.ndarray | None = None) -> ParsedLiterals:
        """``data`` float32 ``[n, WIDTH]`` for any mix of the temporal datatypes; invalid rows are 0."""
        data, valid, errors = parse_temporal(lexical, datatypes)
        _scale_time_per_group(data, valid, groups)
        short = np.fromiter(
            (ok and bool(_SHORT_YEAR.match(t)) for t, ok in zip(lexical, valid.tolist())), dtype=bool, count=len(valid)
        )
        return ParsedLiterals(
            data=data, valid=valid, errors=errors, meta={"width": WIDTH, "features": list(FEATURES)},
            lenient={"year with fewer than four digits": short} if short.any() else {},
        )

    def make_encoder(self, parsed: ParsedLiterals, out_dim: int, **options: Any) -> nn.Module:
        """A feed-forward net ``Linear(WIDTH, hidden)-ReLU-Linear(hidden, out_dim)`` (option ``hidden``)."""
        from rdf2mm.modalities.encoders.temporal import TemporalEncoder

        return TemporalEncoder(in_dim=int(parsed.meta.get("width", WIDTH)), out_dim=out_dim, **options)


class _Reasons:
    """Interns rejection reasons as small integer codes (0 = valid)."""

    def __init__(self) -> None:
        self.names: list[str] = [""]
        self._code: dict[str, int] = {"": 0}

    def code(self, reason: str) -> int:
        if reason not in self._code:
            self._code[reason] = len(self.names)
            self.names.append(reason)
        return self._code[reason]

    def counter(self, codes: np.ndarray) -> Counter:
        counts = np.bincount(codes, minlength=len(self.names))
        return Counter({self.names[c]: int(k) for c, k in enumerate(counts) if c and k})


#: XSD requires at least four year digits ("0120"); real data writes "120" and "-44"
_SHORT_YEAR = re.compile(r"\s*-?[0-9]{1,3}(?![0-9])(?:$|[-+Z\s])")


def _scale_time_per_group(data: np.ndarray, valid: np.ndarray, groups: np.ndarray | None) -> None:
    """Fill ``time_local``: a predicate's dates spread over [-1, 1].

    The global ``time`` feature must cover millennia, so dates within one dataset (say
    1860-1925) differ there by a few hundredths; scaling per predicate, robustly as
    numbers are, lets the encoder separate them without first learning a steep slope.
    """
    from rdf2mm.modalities.numeric import scale_per_group  # noqa: PLC0415

    dated = valid & (data[:, _F["has_year"]] > 0)
    if not dated.any():
        return
    years = np.arctanh(np.clip(data[:, _F["time"]].astype(np.float64), -0.999999, 0.999999)) * 500.0 + 2000.0
    g = np.zeros(len(data), np.int64) if groups is None else np.asarray(groups, np.int64)
    data[:, _F["time_local"]] = scale_per_group(years, g, dated, "robust")


def parse_temporal(lexical: Sequence[str], datatypes: Sequence[str]) -> tuple[np.ndarray, np.ndarray, Counter]:
    """Features ``[n, WIDTH]``, validity and rejection reasons for temporal lexical forms."""
    n = len(lexical)
    data = np.zeros((n, WIDTH), np.float32)
    codes = np.zeros(n, np.int16)
    reasons = _Reasons()
    if n == 0:
        return data, np.zeros(0, bool), Counter()
    stripped = [t.strip(XSD_WS) if isinstance(t, str) else None for t in lexical]
    for dt, rows in rows_by_datatype(datatypes, n):
        form = _FORM_OF.get(dt)
        texts = stripped if rows is None else [stripped[i] for i in rows]
        idx = np.arange(n) if rows is None else rows
        if form is not None:
            label = "xsd:" + form
            _parse_form(form, texts, idx, label, data, codes, reasons)
        else:
            _parse_guess(texts, idx, data, codes, reasons)
    valid = codes == 0
    if not valid.all():
        data[~valid] = 0.0
    return data, valid, reasons.counter(codes)


def _parse_guess(
    texts: list[str | None], idx: np.ndarray, data: np.ndarray, codes: np.ndarray, reasons: _Reasons
) -> None:
    """Literals of a non-XSD datatype: each takes the first XSD form its text matches."""
    form_of = np.full(len(texts), -1, np.int64)
    for j, text in enumerate(texts):
        if text is None:
            continue
        for k, form in enumerate(_GUESS_ORDER):
            if _FORMS[form][0].fullmatch(text):
                form_of[j] = k
                break
    for k, form in enumerate(_GUESS_ORDER):
        sel = np.flatnonzero(form_of == k)
        if len(sel):
            _parse_form(form, [texts[j] for j in sel], idx[sel], "xsd:" + form, data, codes, reasons)
    rest = np.flatnonzero(form_of < 0)
    for j in rest:
        codes[idx[j]] = reasons.code("not a string" if texts[j] is None else "not a date or time")


def _parse_form(
    form: str,
    texts: list[str | None],
    idx: np.ndarray,
    label: str,
    data: np.ndarray,
    codes: np.ndarray,
    reasons: _Reasons,
) -> None:
    """Parse ``texts`` (all of one XSD form) into ``data[idx]``, setting ``codes[idx]``."""
    cols = _FORMS[form][1]
    rows_tuples = _match_lines(form, texts)
    key = 1 if cols[0] == "sign" else 0  # a column never empty in a match
    ok = np.fromiter((t[key] != "" for t in rows_tuples), dtype=bool, count=len(texts))
    for j in np.flatnonzero(~ok):
        codes[idx[j]] = reasons.code(_malformed_reason(form, texts[j], label))
    good = np.flatnonzero(ok)
    if len(good) == 0:
        return
    rows = idx[good]
    if len(good) < len(texts):
        rows_tuples = list(compress(rows_tuples, ok.tolist()))
    columns = {c: [t[i] for t in rows_tuples] for i, c in enumerate(cols)}
    m = len(good)
    code = np.zeros(m, np.int16)

    def reject(mask: np.ndarray, reason: str) -> None:
        code[mask & (code == 0)] = reasons.code(reason)

    def ints(name: str) -> np.ndarray:
        return np.fromiter(map(int, columns[name]), dtype=np.int64, count=m)

    has_year = "year" in columns
    if has_year:
        year = ints("year")
        if columns["sign"].count("") < m:  # some negative years
            year = np.where(np.fromiter((s == "-" for s in columns["sign"]), dtype=bool, count=m), -year, year)
    else:
        year = np.zeros(m, np.int64)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))

    month = ints("month") if "month" in columns else np.ones(m, np.int64)
    reject((month < 1) | (month > 12), "month out of range")
    month_ix = np.clip(month, 1, 12) - 1

    day = ints("day") if "day" in columns else np.ones(m, np.int64)
    if "day" in columns:
        reject((day < 1) | (day > 31), "day out of range")
        if "month" in columns:
            # Without a year (gMonthDay) February has 29 days: --02-29 exists.
            feb29 = (month == 2) & (day == 29) & (~leap if has_year else False)
            reject(feb29, "February 29 in a non-leap year")
            longest = _MONTH_DAYS[month_ix] + (month == 2)
            reject(day > longest, "day does not exist in that month")

    has_time = "hour" in columns
    if has_time:
        hour, minute = ints("hour"), ints("minute")
        second = np.fromiter(map(float, columns["second"]), dtype=np.float64, count=m)
        end_of_day = (hour == 24) & (minute == 0) & (second == 0)
        reject((hour > 23) & ~end_of_day, "hour out of range")
        reject(minute > 59, "minute out of range")
        reject(second >= 60, "second out of range")
        hour = np.where(end_of_day, 0, hour)
    else:
        hour = minute = np.zeros(m, np.int64)
        second = np.zeros(m, np.float64)

    tz_text = columns["tz"]
    if tz_text.count("") == m:  # the usual case: no timezones at all
        tz, has_tz = np.zeros(m), np.zeros(m, bool)
    else:
        tz_table = {t: _tz_minutes(t) for t in set(tz_text)}  # few distinct offsets
        tz = np.fromiter((tz_table[t] for t in tz_text), dtype=np.float64, count=m)
        has_tz = np.fromiter((t != "" for t in tz_text), dtype=bool, count=m)
        reject(np.isnan(tz), "timezone out of range")
        tz = np.nan_to_num(tz)

    whole = m == len(codes)  # rows is then 0..n-1: slicing avoids two gathers of [n, WIDTH]
    codes[slice(None) if whole else rows] = code
    data[slice(None) if whole else rows] = _features(
        year if has_year else None,
        month if "month" in columns else None,
        day if "day" in columns else None,
        leap,
        (hour, minute, second) if has_time else None,
        tz,
        has_tz,
    )


def _match_lines(form: str, texts: list[str | None]) -> list[tuple[str, ...]]:
    """One tuple of captured columns per text (all "" where the text is not of ``form``)."""
    width = len(_FORMS[form][1])
    # None and multi-line texts cannot be joined; they never match anyway.
    safe = [t if t is not None and "\n" not in t else "\x00" for t in texts]
    found = _LINES[form].findall("\n".join(safe))
    if len(found) == len(texts):  # every form has >= 2 groups, so these are tuples
        return found
    # Defensive: the one-pass regex misaligned, so match one by one.
    empty = ("",) * width
    out = []
    for t in safe:
        m = _FORMS[form][0].fullmatch(t)
        out.append(tuple(g or "" for g in m.groups()) if m else empty)
    return out


def _malformed_reason(form: str, text: str | None, label: str) -> str:
    if text is None:
        return "not a string"
    if _LONG_YEAR[form].fullmatch(text):
        return "year out of supported range"
    if form == "dateTimeStamp" and _FORMS["dateTime"][0].fullmatch(text):
        return "timezone required for xsd:dateTimeStamp"
    return f"malformed {label}"


def _tz_minutes(text: str) -> float:
    """Offset in minutes; NaN when out of range (beyond ±14:00 or minutes over 59)."""
    if not text or text == "Z":
        return 0.0
    hh, mm = int(text[1:3]), int(text[4:6])
    if mm > 59 or hh > 14 or (hh == 14 and mm):
        return float("nan")
    return float((hh * 60 + mm) * (-1 if text[0] == "-" else 1))


# ---------------------------------------------------------------- features
def _circle(out: np.ndarray, name: str, value: np.ndarray, period: float) -> None:
    angle = (2 * np.pi / period) * value
    out[:, _F[name + "_sin"]] = np.sin(angle)
    out[:, _F[name + "_cos"]] = np.cos(angle)


def _weekday(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """0 = Monday; proleptic Gregorian, any year (the calendar repeats every 400 years)."""
    y = year % 400 + 400 - (month <= 2)
    mp = (month + 9) % 12  # March = 0
    doy = (153 * mp + 2) // 5 + day - 1
    era_day = y * 365 + y // 4 - y // 100 + y // 400 + doy
    return (era_day + 2) % 7  # offset fixed by 2000-03-01 being a Wednesday


def _features(
    year: np.ndarray | None,
    month: np.ndarray | None,
    day: np.ndarray | None,
    leap: np.ndarray,
    time: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    tz: np.ndarray,
    has_tz: np.ndarray,
) -> np.ndarray:
    m = len(tz)
    out = np.zeros((m, WIDTH), np.float32)
    if year is not None:
        yf = year.astype(np.float64)
        fraction = np.zeros(m)
        if month is not None:
            days_in_year = 365.0 + leap
            m_ix = np.clip(month, 1, 12) - 1
            elapsed = _CUM_DAYS[m_ix] + ((month > 2) & leap)
            if day is not None:
                elapsed = elapsed + day - 1
                if time is not None:
                    h, mi, s = time
                    elapsed = elapsed + (h * 3600 + mi * 60 + s) / 86400.0
            fraction = elapsed / days_in_year
        out[:, _F["era"]] = np.where(year > 0, 1.0, -1.0)
        out[:, _F["century"]] = np.tanh(np.floor_divide(year, 100) / 20.0)
        _circle(out, "decade", np.floor_divide(year, 10) % 10, 10)
        _circle(out, "year", year % 10, 10)
        out[:, _F["time"]] = np.tanh((yf + fraction - 2000.0) / 500.0)
        out[:, _F["magnitude"]] = np.clip(np.sign(yf) * np.log10(1.0 + np.abs(yf)) / 15.0, -1.0, 1.0)
        out[:, _F["has_year"]] = 1.0
    if month is not None:
        _circle(out, "month", month - 1, 12)
        out[:, _F["has_month"]] = 1.0
    if day is not None:
        _circle(out, "day", day - 1, 31)
        out[:, _F["has_day"]] = 1.0
    if year is not None and month is not None and day is not None:
        _circle(out, "weekday", _weekday(year, np.clip(month, 1, 12), day), 7)
        out[:, _F["has_weekday"]] = 1.0
    if time is not None:
        h, mi, s = time
        _circle(out, "hour", h, 24)
        _circle(out, "minute", mi, 60)
        _circle(out, "second", s, 60)
        out[:, _F["has_time"]] = 1.0
    out[:, _F["tz_offset"]] = tz / 840.0
    out[:, _F["has_tz"]] = has_tz
    return out
