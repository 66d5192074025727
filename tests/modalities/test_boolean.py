"""Boolean modality: the four XSD lexical forms, whitespace, reasons, encoder."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rdf2mm.modalities.boolean import BooleanModality

BOOL = "http://www.w3.org/2001/XMLSchema#boolean"


def _parse(texts: list[object]):
    return BooleanModality().parse(texts, [BOOL] * len(texts))  # type: ignore[arg-type]


def test_lexical_space() -> None:
    p = _parse(["true", "1", "false", "0", " true\n", "\t0 "])
    assert p.valid.all()
    assert p.data[:, 0].tolist() == [1, 1, -1, -1, 1, -1]
    assert p.data.shape == (6, 1) and p.data.dtype == np.float32


@pytest.mark.parametrize("text", ["True", "FALSE", "yes", "no", "t", "f", "", " ", "01", "+1", "-1", "1.0",
                                  "\u00a0true", "tr ue", "١"])
def test_not_a_boolean(text: str) -> None:
    p = _parse([text])
    assert not p.valid[0] and p.errors == {"not a boolean": 1} and p.data[0, 0] == 0


def test_reasons_counted() -> None:
    p = _parse(["true", None, "yes", 1, "0"])
    assert p.valid.tolist() == [True, False, False, False, True]
    assert p.errors == {"not a string": 2, "not a boolean": 1}
    assert sum(p.errors.values()) == p.n_invalid


def test_encoder_shapes_and_gradients() -> None:
    m = BooleanModality()
    p = _parse(["true", "false", "true"])
    enc = m.make_encoder(p, 5)
    out = enc(torch.as_tensor(p.data))
    assert out.shape == (3, 5)
    assert not torch.allclose(out[0], out[1])  # true and false map to different vectors
    out.sum().backward()
    assert all(q.grad is not None and q.grad.abs().sum() > 0 for q in enc.parameters())
    assert enc(torch.as_tensor(p.data[:, 0])).shape == (3, 5)


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.text(max_size=12), st.sampled_from(["true", "false", "0", "1", " true ", "True"]), st.none()))
def test_parse_never_raises(text: object) -> None:
    p = _parse([text, "true", text])
    assert p.valid.dtype == bool and p.valid.shape == (3,)
    assert np.all(np.isfinite(p.data)) and np.all(p.data[~p.valid] == 0)
    assert set(np.unique(p.data[p.valid])) <= {-1.0, 1.0}
    assert sum(p.errors.values()) == p.n_invalid
    assert p.valid[0] == (isinstance(text, str) and text.strip(" \t\n\r") in ("true", "false", "0", "1"))
