"""Numeric modality: strict XSD lexical rules, reasons, robust per-group scaling, encoder."""
from __future__ import annotations

import gzip
import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdf2mm.modalities.numeric import NumericModality, scale_per_group
from tests.conftest import shared

XSD = "http://www.w3.org/2001/XMLSchema#"
NUMERIC = [XSD + t for t in (
    "decimal integer int long short byte nonNegativeInteger nonPositiveInteger negativeInteger "
    "positiveInteger unsignedLong unsignedInt unsignedShort unsignedByte double float"
).split()]


@pytest.fixture(autouse=True)
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _one(text: object, dt: str) -> tuple[bool, str | None]:
    """(valid, the single rejection reason) for one literal."""
    p = NumericModality().parse([text], [XSD + dt])  # type: ignore[list-item]
    assert sum(p.errors.values()) == p.n_invalid
    return bool(p.valid[0]), (next(iter(p.errors)) if p.errors else None)


@pytest.mark.parametrize(
    ("text", "dt"),
    [
        ("1e3", "double"), ("1E-3", "float"), ("-.5e+2", "double"), ("+7", "integer"), ("007", "int"),
        (" 12 ", "integer"), ("\t12\n", "decimal"), ("\r\n3.25 ", "double"), (".5", "decimal"), ("5.", "decimal"),
        ("-0", "nonNegativeInteger"), ("+0", "nonPositiveInteger"), ("127", "byte"), ("-128", "byte"),
        ("255", "unsignedByte"), ("65535", "unsignedShort"), ("-2147483648", "int"), ("4294967295", "unsignedInt"),
        ("9223372036854775807", "long"), ("-9223372036854775808", "long"), ("18446744073709551615", "unsignedLong"),
        ("1", "positiveInteger"), ("-1", "negativeInteger"), ("0" * 5000 + "1", "long"),
        ("1" * 100, "integer"), ("1.7e308", "double"),
    ],
)
def test_valid_lexical_forms(text: str, dt: str) -> None:
    valid, reason = _one(text, dt)
    assert valid, reason


@pytest.mark.parametrize(
    ("text", "dt", "reason"),
    [
        ("1e3", "integer", "not an integer"),
        ("1.0", "int", "not an integer"),
        ("1e3", "decimal", "exponent not allowed in xsd:decimal"),
        ("NaN", "double", "not finite"),
        ("INF", "double", "not finite"),
        ("-INF", "float", "not finite"),
        ("+INF", "double", "not finite"),
        ("INF", "integer", "not finite"),
        ("1e400", "double", "not finite"),
        ("1" * 400, "integer", "not finite"),
        ("nan", "double", "not a number"),
        ("inf", "double", "not a number"),
        ("Infinity", "double", "not a number"),
        ("1_000", "integer", "not a number"),
        ("١٢", "integer", "not a number"),  # Arabic-Indic digits: float() would take them
        ("１２", "double", "not a number"),  # full-width digits
        ("\u00a012", "integer", "not a number"),  # NBSP is not XSD whitespace
        ("1 2", "integer", "not a number"),
        ("0x10", "integer", "not a number"),
        (".", "decimal", "not a number"),
        ("+", "integer", "not a number"),
        ("1e", "double", "not a number"),
        ("", "double", "empty"),
        ("   ", "integer", "empty"),
        ("128", "byte", "out of range for xsd:byte"),
        ("-129", "byte", "out of range for xsd:byte"),
        ("256", "unsignedByte", "out of range for xsd:unsignedByte"),
        ("-1", "unsignedInt", "out of range for xsd:unsignedInt"),
        ("2147483648", "int", "out of range for xsd:int"),
        ("32768", "short", "out of range for xsd:short"),
        ("0", "positiveInteger", "out of range for xsd:positiveInteger"),
        ("0", "negativeInteger", "out of range for xsd:negativeInteger"),
        ("1", "nonPositiveInteger", "out of range for xsd:nonPositiveInteger"),
        ("-1", "nonNegativeInteger", "out of range for xsd:nonNegativeInteger"),
        ("9223372036854775808", "long", "out of range for xsd:long"),
        ("-9223372036854775809", "long", "out of range for xsd:long"),
        ("18446744073709551616", "unsignedLong", "out of range for xsd:unsignedLong"),
        (None, "double", "not a string"),
        (12, "integer", "not a string"),
    ],
)
def test_invalid_lexical_forms(text: object, dt: str, reason: str) -> None:
    assert _one(text, dt) == (False, reason)


def test_reasons_counted_and_invalid_rows_zero() -> None:
    texts = ["1", "2", "x", "NaN", "300", "4", "INF", "y"]
    dts = [XSD + "double"] * 4 + [XSD + "byte"] * 2 + [XSD + "double"] * 2
    p = NumericModality().parse(texts, dts)
    assert p.valid.tolist() == [True, True, False, False, False, True, False, False]
    assert p.errors == {"not a number": 2, "not finite": 2, "out of range for xsd:byte": 1}
    assert p.data.shape == (8, 1) and p.data.dtype == np.float32
    assert np.all(p.data[~p.valid] == 0)


def test_user_datatype_uses_double_rules() -> None:
    p = NumericModality().parse(["1e3", "12", "abc"], ["http://example.org/dt#celsius"] * 3)
    assert p.valid.tolist() == [True, True, False]


def test_outlier_does_not_squash_the_rest() -> None:
    values = list(range(1, 101)) + [1e12]
    p = NumericModality().parse([str(v) for v in values], [XSD + "double"] * len(values))
    x = p.data[:, 0]
    assert np.all(np.abs(x) <= 1)
    body = x[:-1]
    assert body.max() - body.min() > 0.8  # the 100 ordinary values keep their spread
    assert np.all(np.diff(body) > 0)  # and their order
    assert x[-1] > 0.99
    # The reference's min-max scaling would crush them: this is what robust scaling fixes.
    mm = NumericModality(scaling="minmax").parse([str(v) for v in values], [XSD + "double"] * len(values))
    assert mm.data[:-1, 0].max() - mm.data[:-1, 0].min() < 1e-6


def test_scaling_is_per_group() -> None:
    rng = np.random.default_rng(0)
    big, small = rng.normal(1e6, 1e5, 200), rng.normal(0.0, 1e-3, 200)
    values = np.concatenate([big, small])
    groups = np.repeat([7, 3], 200)
    p = NumericModality().parse([repr(float(v)) for v in values], [XSD + "double"] * 400, groups)
    x = p.data[:, 0]
    for part in (x[:200], x[200:]):
        assert 0.2 < part.std() < 0.6 and abs(np.median(part)) < 0.05
    # Without groups the small-valued predicate collapses onto one point.
    one = NumericModality().parse([repr(float(v)) for v in values], [XSD + "double"] * 400)
    assert one.data[200:, 0].std() < 1e-3


@pytest.mark.parametrize("values", [[5.0] * 10, [0.0] * 50 + [1.0] * 3, [1.0], [-3.0, 3.0]])
def test_degenerate_groups(values: list[float]) -> None:
    v = np.array(values)
    out = scale_per_group(v, np.zeros(len(v), np.int64), np.ones(len(v), bool))
    assert np.all(np.isfinite(out)) and np.all(np.abs(out) <= 1)
    if len(set(values)) > 1:
        assert out.max() > out.min()


def test_log_scaling_spreads_decades() -> None:
    values = [10.0**k for k in range(0, 12)]
    p = NumericModality(scaling="log").parse([str(v) for v in values], [XSD + "double"] * 12)
    assert np.all(np.diff(p.data[:, 0]) > 0.02)


def test_empty_input() -> None:
    p = NumericModality().parse([], [])
    assert p.data.shape == (0, 1) and len(p) == 0


def test_encoder_shapes_and_gradients() -> None:
    m = NumericModality()
    p = m.parse(["1", "2.5", "-3", "bad"], [XSD + "double"] * 4)
    for options in ({}, {"hidden": 0}, {"hidden": 8}):
        enc = m.make_encoder(p, 6, **options)
        out = enc(torch.as_tensor(p.data[[0, 1, 2]]))
        assert out.shape == (3, 6)
        out.square().sum().backward()
        assert all(q.grad is not None and q.grad.abs().sum() > 0 for q in enc.parameters())
    assert m.make_encoder(p, 4)(torch.as_tensor(p.data[:, 0])).shape == (4, 4)  # [b] works too


def test_encoder_learns_a_threshold() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    v = rng.uniform(-1000, 1000, 256)
    m = NumericModality()
    p = m.parse([repr(float(x)) for x in v], [XSD + "double"] * 256)
    y = torch.as_tensor((v > 250).astype(np.int64))
    model = torch.nn.Sequential(m.make_encoder(p, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    x = torch.as_tensor(p.data)
    for _ in range(150):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    assert (model(x).argmax(1) == y).float().mean() > 0.95


SPECIAL = ["NaN", "INF", "-INF", "+INF", "1e3", " 12 ", "-0", "9223372036854775808", "", ".", "1.", ".e1"]
NUMBERISH = "0123456789+-.eE \t\nINFaN"
DATATYPES = NUMERIC + ["http://example.org/dt#x"]


def _check(texts: list[object], dts: list[str], groups: np.ndarray | None = None) -> None:
    p = NumericModality().parse(texts, dts, groups)  # type: ignore[arg-type]
    assert p.valid.dtype == bool and p.valid.shape == (len(texts),)
    assert p.data.shape == (len(texts), 1) and p.data.dtype == np.float32
    assert np.all(np.isfinite(p.data)) and np.all(np.abs(p.data) <= 1)
    assert np.all(p.data[~p.valid] == 0)
    assert sum(p.errors.values()) == p.n_invalid
    for t, ok in zip(texts, p.valid):
        if ok:  # whatever passed is plain ASCII digits and signs, nothing Python-only
            assert isinstance(t, str) and re.fullmatch(r"[ \t\n\r]*[+-]?[0-9.]+([eE][+-]?[0-9]+)?[ \t\n\r]*", t)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(st.text(max_size=20), st.text(alphabet=NUMBERISH, max_size=16), st.sampled_from(SPECIAL),
              st.none(), st.integers()),
    st.sampled_from(DATATYPES),
)
def test_parse_never_raises(text: object, dt: str) -> None:
    # The random literal alone and inside a small batch with other groups and datatypes.
    _check([text], [dt])
    _check([text, "1", text, "2.5"], [dt, XSD + "double", XSD + "int", dt], np.array([0, 1, 0, 1]))


def test_parse_random_batch_never_raises() -> None:
    rng = np.random.default_rng(1)
    alphabet = list(NUMBERISH) + ["\u00a0", "\u0663", "_", "x", "é"]
    texts: list[object] = ["".join(rng.choice(alphabet, size=rng.integers(0, 12))) for _ in range(20000)]
    dts = [DATATYPES[i] for i in rng.integers(0, len(DATATYPES), len(texts))]
    _check(texts, dts, rng.integers(-1, 5, len(texts)))
    assert 0 < NumericModality().parse(texts, dts).valid.sum() < len(texts)  # the fuzz hits both sides


@pytest.mark.shared_data
def test_real_data_all_valid() -> None:
    pattern = re.compile(r'"([^"]*)"\^\^<(http://www.w3.org/2001/XMLSchema#(?:double|decimal|integer|float))>')
    texts, dts = [], []
    paths = (shared("mutag", "mutag.nt.gz"), shared("aifbplus", "aifbplus.nt.gz"), shared("synth-nc", "context.nt.gz"))
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for m in pattern.finditer(fh.read()):
                texts.append(m.group(1))
                dts.append(m.group(2))
    p = NumericModality().parse(texts, dts)
    assert len(texts) > 9000 and p.n_invalid == 0, p.errors
