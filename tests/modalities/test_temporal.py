"""Temporal modality: XSD 1.1 lexical rules for all nine types, features, masks, encoder."""
from __future__ import annotations

import datetime as dt
import gzip
import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdf2mm.modalities.temporal import FEATURES, WIDTH, TemporalModality
from tests.conftest import shared

XSD = "http://www.w3.org/2001/XMLSchema#"
TYPES = "date dateTime dateTimeStamp gYear gYearMonth gMonthDay gMonth gDay time".split()
F = {name: i for i, name in enumerate(FEATURES)}
MASKS = ["has_year", "has_month", "has_day", "has_weekday", "has_time", "has_tz"]


@pytest.fixture(autouse=True)
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _parse(texts: list[object], dtype: str):
    iri = dtype if dtype.startswith("http") else XSD + dtype
    p = TemporalModality().parse(texts, [iri] * len(texts))  # type: ignore[arg-type]
    assert sum(p.errors.values()) == p.n_invalid
    return p


def _row(text: str, dtype: str) -> np.ndarray:
    p = _parse([text], dtype)
    assert p.valid[0], p.errors
    return p.data[0]


@pytest.mark.parametrize(
    ("text", "dtype"),
    [
        ("2001-10-26", "date"), ("2001-10-26Z", "date"), ("2001-10-26+02:00", "date"), ("-0044-03-15", "date"),
        ("2000-02-29", "date"), ("1600-02-29", "date"), ("0000-02-29", "date"), ("-0004-02-29", "date"),
        ("-0400-02-29", "date"), ("120-01-01", "date"), ("12345-06-30", "date"), (" 2001-10-26\n", "date"),
        ("2001-10-26T21:32:52", "dateTime"), ("2001-10-26T21:32:52.12679", "dateTime"),
        ("2001-10-26T21:32:52-14:00", "dateTime"), ("2001-10-26T24:00:00", "dateTime"),
        ("2001-10-26T24:00:00.000Z", "dateTime"), ("-2001-10-26T00:00:00", "dateTime"),
        ("2001-10-26T21:32:52Z", "dateTimeStamp"), ("2001-10-26T21:32:52+14:00", "dateTimeStamp"),
        ("2001", "gYear"), ("120", "gYear"), ("1", "gYear"), ("0", "gYear"), ("-0044", "gYear"), ("-44", "gYear"),
        ("12345", "gYear"), ("2001Z", "gYear"), ("2001-05:00", "gYear"), ("999999999999999", "gYear"),
        ("2001-10", "gYearMonth"), ("-0001-12+01:00", "gYearMonth"),
        ("--02-29", "gMonthDay"), ("--12-31Z", "gMonthDay"),
        ("--05", "gMonth"), ("--05--", "gMonth"), ("--12Z", "gMonth"),
        ("---01", "gDay"), ("---31+05:30", "gDay"),
        ("13:20:00", "time"), ("00:00:00Z", "time"), ("23:59:59.999", "time"), ("24:00:00", "time"),
    ],
)
def test_valid(text: str, dtype: str) -> None:
    _row(text, dtype)


@pytest.mark.parametrize(
    ("text", "dtype", "reason"),
    [
        ("1990-02-30", "date", "day does not exist in that month"),
        ("2021-04-31", "date", "day does not exist in that month"),
        ("2021-13-01", "date", "month out of range"),
        ("2021-00-01", "date", "month out of range"),
        ("2021-01-00", "date", "day out of range"),
        ("2021-01-32", "date", "day out of range"),
        ("1900-02-29", "date", "February 29 in a non-leap year"),
        ("2100-02-29", "date", "February 29 in a non-leap year"),
        ("2021-02-29", "date", "February 29 in a non-leap year"),
        ("-0001-02-29", "date", "February 29 in a non-leap year"),
        ("2001-10-26T25:00:00", "dateTime", "hour out of range"),
        ("2001-10-26T24:00:01", "dateTime", "hour out of range"),
        ("2001-10-26T24:30:00", "dateTime", "hour out of range"),
        ("2001-10-26T12:60:00", "dateTime", "minute out of range"),
        ("2001-10-26T12:00:60", "dateTime", "second out of range"),
        ("2001-10-26T21:32:52+14:01", "dateTime", "timezone out of range"),
        ("2001-10-26T21:32:52+15:00", "dateTime", "timezone out of range"),
        ("2001-10-26T21:32:52+01:60", "dateTime", "timezone out of range"),
        ("2001-10-26T21:32:52", "dateTimeStamp", "timezone required for xsd:dateTimeStamp"),
        ("2001-10-26T21:32", "dateTime", "malformed xsd:dateTime"),
        ("2001-10-26 21:32:52", "dateTime", "malformed xsd:dateTime"),
        ("2001-10-26", "dateTime", "malformed xsd:dateTime"),
        ("2001-1-26", "date", "malformed xsd:date"),
        ("2001-10-26T", "date", "malformed xsd:date"),
        ("26/10/2001", "date", "malformed xsd:date"),
        ("+2001", "gYear", "malformed xsd:gYear"),
        ("2001 ", "gYear", None),  # trailing whitespace is collapsed: valid
        ("20 01", "gYear", "malformed xsd:gYear"),
        ("", "gYear", "malformed xsd:gYear"),
        ("٢٠٠١", "gYear", "malformed xsd:gYear"),
        ("1" * 16, "gYear", "year out of supported range"),
        ("1" * 5000 + "-01-01", "date", "year out of supported range"),
        ("2001-13", "gYearMonth", "month out of range"),
        ("--02-30", "gMonthDay", "day does not exist in that month"),
        ("--04-31", "gMonthDay", "day does not exist in that month"),
        ("--13", "gMonth", "month out of range"),
        ("--00", "gMonth", "month out of range"),
        ("---32", "gDay", "day out of range"),
        ("---00", "gDay", "day out of range"),
        ("25:00:00", "time", "hour out of range"),
        ("12:00", "time", "malformed xsd:time"),
        ("12:00:00.", "time", "malformed xsd:time"),
        (None, "date", "not a string"),
        (2001, "gYear", "not a string"),
    ],
)
def test_invalid(text: object, dtype: str, reason: str | None) -> None:
    p = _parse([text], dtype)
    if reason is None:
        assert p.valid[0]
        return
    assert not p.valid[0]
    assert p.errors == {reason: 1}
    assert np.all(p.data[0] == 0)


def test_mixed_batch_counts_reasons() -> None:
    texts = ["2001", "1990-02-30", "13:00:00", "2021-13-01", "1990-02-30", "--05", "x"]
    dts = [XSD + t for t in ("gYear", "date", "time", "date", "date", "gMonth", "gDay")]
    p = TemporalModality().parse(texts, dts)
    assert p.valid.tolist() == [True, False, True, False, False, True, False]
    assert p.errors == {"day does not exist in that month": 2, "month out of range": 1, "malformed xsd:gDay": 1}
    assert p.data.shape == (7, WIDTH) and p.data.dtype == np.float32
    assert np.all(p.data[~p.valid] == 0)


@pytest.mark.parametrize(
    ("text", "dtype", "present"),
    [
        ("2001-10-26T21:32:52Z", "dateTime", MASKS),
        ("2001-10-26T21:32:52", "dateTime", MASKS[:5]),
        ("2001-10-26", "date", MASKS[:4]),
        ("2001-10", "gYearMonth", ["has_year", "has_month"]),
        ("2001", "gYear", ["has_year"]),
        ("--10-26", "gMonthDay", ["has_month", "has_day"]),
        ("--10", "gMonth", ["has_month"]),
        ("---26Z", "gDay", ["has_day", "has_tz"]),
        ("21:32:52", "time", ["has_time"]),
    ],
)
def test_presence_masks(text: str, dtype: str, present: list[str]) -> None:
    row = _row(text, dtype)
    assert [m for m in MASKS if row[F[m]] == 1] == present
    assert all(row[F[m]] == 0 for m in MASKS if m not in present)
    # Absent components are zero, not the encoding of some default value.
    if "has_year" not in present:
        year_part = ("era", "century", "decade_sin", "decade_cos", "year_sin", "year_cos", "time")
        assert all(row[F[k]] == 0 for k in year_part)
    if "has_time" not in present:
        assert all(row[F[k]] == 0 for k in ("hour_sin", "hour_cos", "minute_sin", "minute_cos"))


def test_feature_values() -> None:
    assert _row("0000", "gYear")[F["era"]] == -1  # year 0 is 1 BCE
    assert _row("0001", "gYear")[F["era"]] == 1
    assert _row("-0044", "gYear")[F["era"]] == -1
    assert not np.allclose(_row("-0044", "gYear"), _row("0044", "gYear"))
    assert np.allclose(_row("120", "gYear"), _row("0120", "gYear"))
    # The continuous time orders years, months and days.
    order = [_row(t, d)[F["time"]] for t, d in [
        ("-0500", "gYear"), ("120", "gYear"), ("1949-12-31", "date"), ("1950-01-01", "date"),
        ("1950-01-01T12:00:00", "dateTime"), ("1950-06", "gYearMonth"), ("2020", "gYear"), ("2500", "gYear")]]
    assert np.all(np.diff(order) > 0), order
    # Cyclic components: December is next to January, and 23:00 next to 00:00.
    jan, dec, jul = (_row(f"2001-{m:02d}", "gYearMonth") for m in (1, 12, 7))
    cyc = [F["month_sin"], F["month_cos"]]
    assert np.linalg.norm(jan[cyc] - dec[cyc]) < np.linalg.norm(jan[cyc] - jul[cyc])
    assert np.isclose(np.linalg.norm(jan[cyc]), 1)
    h0, h23 = _row("00:00:00", "time"), _row("23:00:00", "time")
    assert np.hypot(*(h0[[F["hour_sin"], F["hour_cos"]]] - h23[[F["hour_sin"], F["hour_cos"]]])) < 0.3
    assert np.allclose(_row("2001-10-26T24:00:00", "dateTime")[[F["hour_sin"], F["hour_cos"]]], [0, 1], atol=1e-6)
    # Timezone offsets, local components unchanged.
    a, b = _row("2001-10-26T21:32:52+05:30", "dateTime"), _row("2001-10-26T21:32:52-14:00", "dateTime")
    assert np.isclose(a[F["tz_offset"]], 330 / 840) and np.isclose(b[F["tz_offset"]], -1)
    assert np.allclose(np.delete(a, F["tz_offset"]), np.delete(b, F["tz_offset"]))
    # Huge years stay bounded but distinct.
    big = _parse(["100000", "1000000000", "-999999999999999"], "gYear")
    assert big.valid.all() and np.all(np.abs(big.data) <= 1)
    assert len({round(float(v), 4) for v in big.data[:, F["magnitude"]]}) == 3


def test_weekday_matches_python() -> None:
    rng = np.random.default_rng(3)
    days = [dt.date(1, 1, 1) + dt.timedelta(days=int(k)) for k in rng.integers(0, 3_650_000, 500)]
    p = _parse([d.isoformat() for d in days], "date")
    assert p.valid.all()
    angle = np.arctan2(p.data[:, F["weekday_sin"]], p.data[:, F["weekday_cos"]])
    got = np.round(angle / (2 * np.pi) * 7).astype(int) % 7
    assert got.tolist() == [d.weekday() for d in days]
    # The Gregorian calendar repeats every 400 years, negative years included.
    a, b = _row("-0397-03-09", "date"), _row("0003-03-09", "date")
    assert np.allclose(a[[F["weekday_sin"], F["weekday_cos"]]], b[[F["weekday_sin"], F["weekday_cos"]]])


def test_user_datatype_takes_first_matching_form() -> None:
    texts = ["2001-10-26", "2001", "12:00:00", "--05", "2001-10-26T01:02:03Z", "soon"]
    p = _parse(texts, "http://example.org/dt#when")
    assert p.valid.tolist() == [True, True, True, True, True, False]
    assert p.errors == {"not a date or time": 1}
    assert p.data[1, F["has_month"]] == 0 and p.data[2, F["has_time"]] == 1 and p.data[4, F["has_tz"]] == 1


def test_empty_input() -> None:
    p = TemporalModality().parse([], [])
    assert p.data.shape == (0, WIDTH) and len(p) == 0


def test_encoder_shapes_and_gradients() -> None:
    m = TemporalModality()
    p = _parse(["2001-10-26", "1950", "--05", "bad"], "http://example.org/dt#when")
    enc = m.make_encoder(p, 7, hidden=16)
    out = enc(torch.as_tensor(p.data[[0, 1, 2]]))
    assert out.shape == (3, 7)
    out.square().sum().backward()
    assert all(q.grad is not None and q.grad.abs().sum() > 0 for q in enc.parameters())


def test_encoder_learns_before_after_1950() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    days = [dt.date(1800, 1, 1) + dt.timedelta(days=int(k)) for k in rng.integers(0, 300 * 365, 512)]
    m = TemporalModality()
    p = _parse([d.isoformat() for d in days], "date")
    y = torch.as_tensor([int(d.year >= 1950) for d in days])
    model = torch.nn.Sequential(m.make_encoder(p, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    x = torch.as_tensor(p.data)
    for _ in range(300):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    assert (model(x).argmax(1) == y).float().mean() > 0.95
    # And on dates it has not seen.
    new = [dt.date(1800, 1, 1) + dt.timedelta(days=int(k)) for k in rng.integers(0, 300 * 365, 512)]
    x_new = torch.as_tensor(_parse([d.isoformat() for d in new], "date").data)
    y_new = torch.as_tensor([int(d.year >= 1950) for d in new])
    assert (model(x_new).argmax(1) == y_new).float().mean() > 0.95


TEMPORALISH = "0123456789-:TZ+. \t"
DATATYPES = [XSD + t for t in TYPES] + ["http://example.org/dt#when"]
EDGE = ["2001-10-26", "1990-02-30", "120", "-0044", "24:00:00", "--02-29", "---31", "2001-10-26T24:00:00Z",
        "0000-02-29", "1" * 30, "\n", "2001\n-10-26"]


def _check(texts: list[object], dts: list[str]) -> None:
    p = TemporalModality().parse(texts, dts)  # type: ignore[arg-type]
    assert p.valid.dtype == bool and p.valid.shape == (len(texts),)
    assert p.data.shape == (len(texts), WIDTH) and p.data.dtype == np.float32
    assert np.all(np.isfinite(p.data)) and np.all(np.abs(p.data) <= 1)
    assert np.all(p.data[~p.valid] == 0)
    assert sum(p.errors.values()) == p.n_invalid


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(st.text(max_size=20), st.text(alphabet=TEMPORALISH, max_size=22), st.sampled_from(EDGE), st.none()),
    st.sampled_from(DATATYPES),
)
def test_parse_never_raises(text: object, dtype: str) -> None:
    _check([text], [dtype])
    _check([text, "2001-10-26", text, "12:00:00"], [dtype, XSD + "date", XSD + "gYear", dtype])


def test_parse_random_batch_never_raises() -> None:
    rng = np.random.default_rng(2)
    pieces = ["2001", "-", "10", "26", "T", "12", ":", "00", "Z", "+05:00", "--", "0", "9", ".5", " ", "\n", "é", "٣"]
    texts: list[object] = ["".join(rng.choice(pieces, size=rng.integers(0, 9))) for _ in range(20000)]
    dts = [DATATYPES[i] for i in rng.integers(0, len(DATATYPES), len(texts))]
    _check(texts, dts)
    assert 0 < TemporalModality().parse(texts, dts).valid.sum() < len(texts)  # the fuzz hits both sides


@pytest.mark.shared_data
def test_real_data_all_valid() -> None:
    pattern = re.compile(r'"([^"]*)"\^\^<(http://www.w3.org/2001/XMLSchema#(?:gYear|date|dateTime))>')
    texts, dts = [], []
    for path in (shared("aifbplus", "aifbplus.nt.gz"), shared("synth-nc", "context.nt.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for m in pattern.finditer(fh.read()):
                texts.append(m.group(1))
                dts.append(m.group(2))
    p = TemporalModality().parse(texts, dts)
    assert len(texts) > 1500 and p.n_invalid == 0, p.errors
    assert any(len(t) < 4 for t in texts)  # the short years the reference dropped are in there
