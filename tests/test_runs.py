"""Run directories: default names never collide."""
from __future__ import annotations

import datetime as dt

from rdf2mm.runs import claim_run_dir, release_run_dir


def test_runs_started_in_the_same_second_get_their_own_directories(tmp_path):
    now = dt.datetime(2026, 11, 22, 10, 0, 0)
    first = claim_run_dir(tmp_path, "node-classification", now)
    second = claim_run_dir(tmp_path, "node-classification", now)
    assert first.name == "20261122-100000-node-classification"
    assert second.name == "20261122-100000-node-classification-2"
    assert first.is_dir() and second.is_dir()
    # a name whose checkpoint folder is left over from an interrupted run is not reused
    (tmp_path / "20261122-100000-node-classification-3.checkpoint").mkdir()
    assert claim_run_dir(tmp_path, "node-classification", now).name.endswith("-4")


def test_release_removes_only_empty_directories(tmp_path):
    root = tmp_path / "runs"
    claimed = claim_run_dir(root, "node-classification")
    release_run_dir(claimed, remove_root=True)
    assert not root.exists()
    # a run directory that holds a result is kept, and so is its root
    claimed = claim_run_dir(root, "node-classification")
    (claimed / "metrics.json").write_text("{}")
    release_run_dir(claimed, remove_root=True)
    assert (claimed / "metrics.json").exists()
    # an empty claim is removed, but a root holding other runs stays
    other = claim_run_dir(root, "link-prediction")
    release_run_dir(other, remove_root=True)
    assert not other.exists() and claimed.exists()
