"""One encoded-input type built by one function: training's inputs are an EncodedGraph."""
from __future__ import annotations

from pathlib import Path

import numpy as np

import rdf2mm
from rdf2mm.encoding import EncodedGraph, encode, encode_graph
from rdf2mm.tasks.inputs import PreparedInputs, prepare_inputs

MUSEUM = Path(__file__).resolve().parents[1] / "examples" / "museum.ttl"


def test_training_inputs_are_the_encoded_graph(tmp_path):
    kg = rdf2mm.read(MUSEUM, cache=False)
    inputs = prepare_inputs(kg, "all", "split", True, "charcnn")
    enc = encode_graph(kg, modalities="all", literals="split", inverse=True)
    assert isinstance(inputs, PreparedInputs) and isinstance(inputs, EncodedGraph)
    assert not hasattr(inputs, "aggregation")  # a model setting, not the data's
    assert inputs.modalities == enc.modalities  # asked for, canonical order
    assert set(inputs.encoded_modalities) <= set(inputs.modalities)
    assert inputs.modality_options == enc.modality_options == {"textual": {"encoder": "charcnn"},
                                                               "visual": {"encoder": "mobilenet"}}
    assert np.array_equal(inputs.mg.edge_index, enc.mg.edge_index)
    assert inputs.prepared.report == enc.prepared.report
    for name in enc.encoded_modalities:
        a, b = inputs.prepared.data[name], enc.prepared.data[name]
        assert np.array_equal(a.literal_ids, b.literal_ids) and np.array_equal(a.parsed.data, b.parsed.data)
    assert repr(inputs).startswith("PreparedInputs(nodes=") and len(repr(inputs)) < 400


def test_text_vocabulary_reaches_the_parser():
    kg = rdf2mm.read(MUSEUM, cache=False)
    enc = encode_graph(kg, modalities="textual", text_vocab=["a", "b"])
    assert enc.modality_options["textual"]["vocab"] == ["a", "b"]
    assert enc.modalities == ("textual",)


def test_every_stage_is_reported_once_in_order(tmp_path):
    events: list[tuple[str, str]] = []
    enc = encode(MUSEUM, tmp_path / "out", cache=False, on_stage=lambda name, what: events.append((name, what)))
    names = [n for n, what in events if what == "start"]
    assert names == ["read", "message_graph", *(f"literals:{m}" for m in enc.encoded_modalities), "write"]
    assert [what for _, what in events] == ["start", "end"] * len(names)
    assert set(enc.timings) == set(names)
