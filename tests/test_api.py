"""The public Python API: what the CLI does, from Python; ``import rdf2mm`` stays light."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import rdf2mm
from rdf2mm.modalities.preprocess import prepare_literals
from rdf2mm.modalities.registry import get_modality

ROOT = Path(__file__).resolve().parents[1]
MUSEUM = ROOT / "examples" / "museum.ttl"


def test_import_is_lazy():
    code = (
        "import sys, rdf2mm; heavy = [m for m in ('torch', 'torch_geometric', 'pyarrow', 'pyoxigraph', 'numpy') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_public_names_resolve():
    for name in rdf2mm.__all__:
        assert getattr(rdf2mm, name) is not None, name
    assert rdf2mm.KnowledgeGraph.to_pyg is not None


def test_encode_read_and_load(tmp_path):
    kg = rdf2mm.read(MUSEUM)
    enc = rdf2mm.encode(kg, tmp_path / "files", literals="merged")
    assert enc.manifest is not None and enc.manifest["layout"] == "files"
    loaded = rdf2mm.load_encoded(tmp_path / "files")
    assert loaded.manifest == enc.manifest
    assert loaded.entities.column("term").to_pylist() == kg.entities
    # from a path, straight to PyG, and back
    enc2 = rdf2mm.encode(MUSEUM, tmp_path / "pyg", to="pyg", literals="merged")
    assert enc2.manifest["sources"] == [str(MUSEUM)]
    data = rdf2mm.load_pyg(tmp_path / "pyg")
    assert torch.equal(data.edge_index, kg.to_pyg(literals="merged").edge_index)
    # without an output folder nothing is written
    assert rdf2mm.encode(kg).manifest is None
    # a short repr, not thousands of array lines
    text = repr(enc)
    assert text.startswith("EncodedGraph(nodes=") and f"entities={kg.num_entities}" in text
    assert f"written to {tmp_path / 'files'}" in text and "numeric" in text and len(text) < 400
    assert repr(loaded).startswith("EncodedFiles(entities=") and len(repr(loaded)) < 400


def test_encode_rejects_bad_options():
    with pytest.raises(rdf2mm.errors.UsageError):
        rdf2mm.encode(MUSEUM, literals="both")
    with pytest.raises(rdf2mm.errors.UsageError):
        rdf2mm.encode(MUSEUM, to="csv")


@pytest.mark.parametrize("name", ["numeric", "temporal", "textual", "boolean"])
def test_encoders_are_plain_torch_modules(name):
    kg = rdf2mm.read(MUSEUM)
    prepared = prepare_literals(kg, (name,))
    if name not in prepared.data:
        pytest.skip(f"the museum example has no {name} literals")
    parsed = prepared.data[name].parsed
    encoder = get_modality(name).make_encoder(parsed, 16)
    assert isinstance(encoder, torch.nn.Module)
    out = encoder(torch.as_tensor(parsed.data))
    assert out.shape == (len(parsed), 16)
    out.sum().backward()
