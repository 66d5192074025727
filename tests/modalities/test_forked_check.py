import base64
import io
import os
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from rdf2mm.modalities import forked_check, preprocess
from rdf2mm.modalities.base import ParsedLiterals
from rdf2mm.modalities.forked_check import SharedCheck, join
from rdf2mm.modalities.visual import VisualModality


def _png(colour) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


LEXICAL = [_png((i, 0, 0)) for i in range(40)] + ["@@not base64@@", _png((1, 2, 3))[:30]] * 3
DTS = ["http://kgbench.info/dt#base64Image"] * len(LEXICAL)


@pytest.mark.skipif(not forked_check.can_fork(), reason="needs Linux and two CPUs")
@pytest.mark.parametrize("chunk", [1, 7, 256])
def test_the_shared_check_gives_what_the_check_gives(chunk, monkeypatch):
    monkeypatch.setattr(forked_check, "CHUNK", chunk)
    modality = VisualModality()
    here = modality.check(LEXICAL, DTS)
    job = SharedCheck(modality, LEXICAL, DTS, None)
    assert job.proc is not None
    there = job.result()
    assert np.array_equal(there.valid, here.valid) and there.errors == here.errors
    assert here.valid.sum() == 40 and sum(here.errors.values()) == 6 and here.errors["not base64"] == 3


def test_without_a_child_this_process_checks_everything():
    modality = VisualModality()
    job = SharedCheck(modality, LEXICAL, DTS, None, fork=False)
    assert job.proc is None
    out = job.result()
    assert out.valid.tolist() == modality.check(LEXICAL, DTS).valid.tolist()


@pytest.mark.skipif(not forked_check.can_fork(), reason="needs Linux and two CPUs")
def test_a_failing_child_falls_back_to_checking_here(monkeypatch):
    parent = os.getpid()
    monkeypatch.setattr(forked_check, "CHUNK", 5)

    class Broken(VisualModality):
        def check(self, lexical, datatypes, groups=None):
            if os.getpid() != parent:  # fails in the child only, after it took a chunk
                raise RuntimeError("boom")
            return super().check(lexical, datatypes, groups)

    out = SharedCheck(Broken(), LEXICAL, DTS, None).result()
    assert out.valid.sum() == 40 and sum(out.errors.values()) == 6
    assert out.valid.tolist() == VisualModality().check(LEXICAL, DTS).valid.tolist()


def test_join_concatenates_slices():
    a = ParsedLiterals(data=np.zeros((2, 0)), valid=np.array([True, False]), errors=Counter({"x": 1}),
                       lenient={"short": np.array([True, False])})
    b = ParsedLiterals(data=np.zeros((3, 0)), valid=np.array([True, True, False]), errors=Counter({"x": 1, "y": 0}))
    j = join([a, b])
    assert j.valid.tolist() == [True, False, True, True, False] and j.errors["x"] == 2
    assert j.lenient["short"].tolist() == [True, False, False, False, False]


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
    calls = []
    forked = preprocess.prepare_literals(kg, validate_only=True, while_checking=lambda: calls.append(1)).report
    assert calls == [1]  # the caller's work ran once
    monkeypatch.setattr(preprocess, "MIN_LITERALS", 10**9)
    alone = preprocess.prepare_literals(kg, validate_only=True).report
    assert forked == alone
    assert alone[img]["ill_typed"] == 6 and alone["http://www.w3.org/2001/XMLSchema#integer"]["ill_typed"] == 5
