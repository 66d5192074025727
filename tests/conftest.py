"""Shared fixtures: paths to the shipped example and to ../shared/data when present."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHARED_DATA = Path(os.environ.get("RDF2MM_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own parsed-graph cache, so tests never see each other's entries."""
    monkeypatch.setenv("RDF2MM_CACHE", str(tmp_path_factory.mktemp("cache")))


def shared(*parts: str) -> Path:
    """A path under ../shared/data, skipping the test when that folder is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (../shared/data is optional)")
    return path


@pytest.fixture(scope="session")
def numeric_only(tmp_path_factory):
    """A generated graph whose label is planted in the numeric literals only; structure and
    the other modalities are noise (shared by the tests that train on it)."""
    from rdf2mm.synthetic import generate

    return generate(tmp_path_factory.mktemp("num"), triples=4000, signal=("numeric",), seed=3)


def label_config(ds, **kw):
    """A node-classification TrainConfig on a generated dataset's given splits (CPU unless ``device``)."""
    from rdf2mm.config import TrainConfig

    kw.setdefault("device", "cpu")
    return TrainConfig(
        graph=[str(ds.graph_path)], train=str(ds.labels_path("train")), valid=str(ds.labels_path("valid")),
        test=str(ds.labels_path("test")), **kw,
    )
