"""Run directories: default names never collide."""
from __future__ import annotations

import datetime as dt

from rdf2mm.runs import claim_run_dir


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
