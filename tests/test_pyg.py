"""PyTorch Geometric interop: Data / HeteroData layout, safe save/load, the example learns."""
from __future__ import annotations

import importlib.util
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import rdf2mm
from rdf2mm.cli import app
from rdf2mm.encoding import NODE_TYPES, encode_graph
from rdf2mm.errors import InputError
from rdf2mm.pyg import literal_encoders, load_pyg, save_pyg
from rdf2mm.synthetic import generate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """A small graph whose classes are learnable from structure alone."""
    return generate(tmp_path_factory.mktemp("synth") / "g", triples=3000, signal=(), structure_signal=1.0, seed=0)


@pytest.fixture(scope="module")
def kg(synth):
    return rdf2mm.read(synth.graph_path, cache=False)


@pytest.fixture(scope="module")
def enc(kg):
    return encode_graph(kg)


def _same(a, b) -> None:
    """Two PyG objects hold the same stores, attributes and values."""
    assert type(a) is type(b)
    sa = {getattr(s, "_key", None): dict(s.items()) for s in a.stores}
    sb = {getattr(s, "_key", None): dict(s.items()) for s in b.stores}
    assert sa.keys() == sb.keys()
    for key in sa:
        assert sa[key].keys() == sb[key].keys(), key
        for attr, va in sa[key].items():
            vb = sb[key][attr]
            if isinstance(va, torch.Tensor):
                assert va.dtype == vb.dtype and torch.equal(va, vb), (key, attr)
            else:
                assert va == vb, (key, attr)


def test_data_layout(enc):
    data = enc.to_pyg()
    assert data.num_nodes == enc.num_nodes
    assert torch.equal(data.edge_index, torch.as_tensor(enc.edge_index))
    assert int(data.edge_type.max()) < len(data.relation_names)
    assert data.node_type_names == list(NODE_TYPES)
    E = data.num_entities
    assert (data.node_type[:E] == 0).all() and (data.node_type[E:] > 0).all()
    assert (data.node_literal[:E] == -1).all() and (data.node_literal[E:] >= 0).all()
    assert set(data.modality_meta) == set(enc.modalities) == {"numeric", "temporal", "textual", "visual", "spatial", "boolean"}
    for name in enc.modalities:
        idx, x = data[f"{name}_index"], data[f"{name}_x"]
        assert len(idx) == len(x) == int((data.node_type == NODE_TYPES.index(name)).sum())
        md = enc.prepared.data[name]
        # row i of <modality>_x is the parsed literal of node idx[i]
        row_of = {int(lit): r for r, lit in enumerate(md.literal_ids)}
        for i in (0, len(idx) - 1):
            lit = int(data.node_literal[idx[i]])
            np.testing.assert_array_equal(x[i].numpy(), md.parsed.data[row_of[lit]])


def test_hetero_layout_keeps_every_node_and_edge(enc):
    data = enc.to_pyg()
    het = enc.to_pyg(hetero=True)
    assert sum(het[t].num_nodes for t in het.node_types) == data.num_nodes
    assert sum(het[e].edge_index.shape[1] for e in het.edge_types) == data.edge_index.shape[1]
    for name in enc.modalities:
        assert torch.equal(het[name].x, data[f"{name}_x"])
    # edge relation keys index relation_names, and endpoints are within their node types
    for src, rel, dst in het.edge_types:
        ei = het[src, rel, dst].edge_index
        assert 0 <= int(rel[1:]) < len(het.relation_names)
        assert int(ei[0].max()) < het[src].num_nodes and int(ei[1].max()) < het[dst].num_nodes


def test_kg_to_pyg_takes_the_encode_options(kg):
    data = kg.to_pyg(modalities="numeric", literals="none", inverse=False, self_loops=True)
    assert not hasattr(data, "numeric_x")  # no literal nodes at all
    assert data.num_nodes == kg.num_entities
    assert data.relation_names[-1] == "self" and len(data.relation_names) == kg.num_relations + 1
    data = kg.to_pyg(modalities="numeric", literals="merged")
    assert set(data.modality_meta) == {"numeric"}


@pytest.mark.parametrize("hetero", [False, True])
def test_save_and_load_round_trip(enc, tmp_path, hetero):
    data = enc.to_pyg(hetero=hetero)
    save_pyg(data, tmp_path / "d.safetensors")
    _same(data, load_pyg(tmp_path / "d.safetensors"))


def test_save_refuses_objects_that_are_not_data(enc, tmp_path):
    data = enc.to_pyg()
    data.model = torch.nn.Linear(2, 2)
    with pytest.raises(TypeError, match="model"):
        save_pyg(data, tmp_path / "d.safetensors")


class _Payload:
    """Unpickling this runs ``os.mkdir(marker)``: the classic malicious pickle."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("how", ["pickle", "torch.save", "header"])
def test_tampered_file_is_refused_and_never_run(enc, tmp_path, how):
    out = tmp_path / "enc"
    enc.write(out, to="pyg")
    target = out / "data.safetensors"
    marker = tmp_path / "pwned"
    if how == "pickle":
        target.write_bytes(pickle.dumps(_Payload(str(marker))))
    elif how == "torch.save":
        torch.save({"edge_index": _Payload(str(marker))}, target)
    else:  # a well-formed safetensors file whose header names a class we do not build
        from safetensors.torch import save_file

        header = {"version": 1, "class": "os.system", "entries": [{"store": None, "attr": "x", "value": "id"}]}
        save_file({"0": torch.zeros(1)}, str(target), metadata={"rdf2mm.pyg": json.dumps(header)})
    with pytest.raises(InputError):
        load_pyg(out)
    assert not marker.exists()
    # the sanity check that the payload is live: plain unpickling does run it
    if how == "pickle":
        pickle.loads(target.read_bytes())
        assert marker.exists()


def test_literal_encoders_are_plain_torch_modules(enc):
    data = enc.to_pyg()
    encoders = literal_encoders(data, 8)
    assert set(encoders) == set(enc.modalities)
    for name, encoder in encoders.items():
        x = data[f"{name}_x"][:4]
        y = encoder(x)
        assert y.shape == (len(x), 8), name
        y.sum().backward()
        assert any(p.grad is not None for p in encoder.parameters()), name


def test_cli_as_pyg_loads_to_the_same_object(synth, kg, tmp_path):
    out = tmp_path / "pyg"
    result = CliRunner().invoke(app, ["encode", str(synth.graph_path), "-o", str(out), "--as", "pyg", "--json"])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    assert manifest["layout"] == "pyg" and manifest["files"]["pyg"]["class"] == "Data"
    _same(kg.to_pyg(), rdf2mm.load_pyg(out))
    het = tmp_path / "het"
    result = CliRunner().invoke(app, ["encode", str(synth.graph_path), "-o", str(het), "--as", "pyg", "--hetero", "-m", "none"])
    assert result.exit_code == 0, result.output
    _same(kg.to_pyg(hetero=True, modalities="none"), load_pyg(het))


@pytest.fixture
def one_thread():
    """One intra-op thread: on a busy 2-core machine, spinning OpenMP threads cost far more than they give."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _example():
    spec = importlib.util.spec_from_file_location("pyg_rgcn_example", ROOT / "examples" / "pyg_rgcn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_rgcn_learns(synth, one_thread):
    # Structure alone carries the label here (chance is 0.5 with two balanced classes);
    # literals are left out to keep the test fast, not because the example needs it.
    args = [str(synth.graph_path), "--train", str(synth.labels_path("train")), "--valid", str(synth.labels_path("valid")),
            "--test", str(synth.labels_path("test")), "--modalities", "none", "--literals", "none", "--epochs", "30"]
    result = _example().main(args)
    assert result["classes"] == 2
    assert result["test_accuracy"] >= 0.8, result


def test_example_rgcn_runs_with_literal_encoders(synth, one_thread):
    args = [str(synth.graph_path), "--train", str(synth.labels_path("train")), "--test", str(synth.labels_path("test")),
            "--modalities", "numeric,temporal,textual,boolean", "--epochs", "2"]
    result = _example().main(args)
    assert 0.0 <= result["test_accuracy"] <= 1.0
