import base64
import io
import os
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from rdf2mm.modalities import forked_check, preprocess
from rdf2mm.modalities.base import ParsedLiterals
from rdf2mm.modalities.forked_check import ForkedCheck, child_share, join
from rdf2mm.modalities.visual import VisualModality


def _png(colour) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


LEXICAL = [_png((i, 0, 0)) for i in range(40)] + ["@@not base64@@", _png((1, 2, 3))[:30]] * 3
DTS = ["http://kgbench.info/dt#base64Image"] * len(LEXICAL)


@pytest.mark.skipif(not forked_check.can_fork(), reason="needs Linux and two CPUs")
def test_the_forked_check_gives_what_the_check_gives():
    modality = VisualModality()
    here = modality.check(LEXICAL, DTS)
    job = ForkedCheck(modality, LEXICAL, DTS, None)
    assert job.proc is not None
    there = job.result()
    assert np.array_equal(there.valid, here.valid) and there.errors == here.errors
    assert here.valid.sum() == 40 and sum(here.errors.values()) == 6 and here.errors["not base64"] == 3


def test_a_failing_child_falls_back_to_checking_here(monkeypatch):
    parent = os.getpid()

    class Broken(VisualModality):
        def check(self, lexical, datatypes, groups=None):
            if os.getpid() != parent:  # fails in the child only
                raise RuntimeError("boom")
            return super().check(lexical, datatypes, groups)

    out = ForkedCheck(Broken(), LEXICAL, DTS, None).result()
    assert out.valid.sum() == 40 and sum(out.errors.values()) == 6


def test_join_concatenates_slices():
    a = ParsedLiterals(data=np.zeros((2, 0)), valid=np.array([True, False]), errors=Counter({"x": 1}),
                       lenient={"short": np.array([True, False])})
    b = ParsedLiterals(data=np.zeros((3, 0)), valid=np.array([True, True, False]), errors=Counter({"x": 1, "y": 0}))
    j = join([a, b])
    assert j.valid.tolist() == [True, False, True, True, False] and j.errors["x"] == 2
    assert j.lenient["short"].tolist() == [True, False, False, False, False]


def test_child_share_balances_the_two_processes():
    assert child_share(1000, 0) == 0.5  # only images: half each
    assert child_share(100, 10**9) == 1.0  # the parent is busy anyway: the child takes them all
    s = child_share(20_000, 700_000)
    assert 0.5 < s < 1.0
    child = s * 20_000 * forked_check.COSTLY_US
    parent = 700_000 * forked_check.OTHER_US + (1 - s) * 20_000 * forked_check.COSTLY_US
    assert child == pytest.approx(parent)


def test_inspect_reports_the_same_with_and_without_the_child(monkeypatch, tmp_path):
    from rdf2mm.graph.ingest import read_graph

    path = tmp_path / "g.nt"
    img = "http://kgbench.info/dt#base64Image"
    lines = [f'<http://e/{i}> <http://e/p> "{lex}"^^<{img}> .' for i, lex in enumerate(LEXICAL)]
    lines += [f'<http://e/{i}> <http://e/n> "{i if i % 7 else "x"}"^^<http://www.w3.org/2001/XMLSchema#integer> .'
              for i in range(30)]
    path.write_text("\n".join(lines) + "\n")
    kg, _ = read_graph([path], cache=False)
    monkeypatch.setattr(preprocess, "MIN_LITERALS", 1)
    forked = preprocess.prepare_literals(kg, validate_only=True).report
    monkeypatch.setattr(preprocess, "MIN_LITERALS", 10**9)
    alone = preprocess.prepare_literals(kg, validate_only=True).report
    assert forked == alone
    assert alone[img]["ill_typed"] == 6 and alone["http://www.w3.org/2001/XMLSchema#integer"]["ill_typed"] == 5
