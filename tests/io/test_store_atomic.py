"""Re-exporting into an embedded store is all or nothing: a process killed at any moment
leaves the run's graph complete, old or new, never none or half."""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph as ox
import pytest

from rdf2mm.io.store import STAGING_PREFIX, load_store

GRAPH = "urn:rdf2mm:run:atomic-test"
OLD, NEW = 30_000, 20_000  # quads in the two versions of the graph

CHILD = r"""
import sys
import pyoxigraph as ox
from rdf2mm.io.store import load_store

def version(n):
    g = ox.NamedNode(sys.argv[2])
    p = ox.NamedNode("http://example.org/p")
    return lambda: (ox.Quad(ox.NamedNode(f"http://example.org/e{i}"), p, ox.Literal("v" * 40 + str(n)), g)
                    for i in range(n))

print("ready", flush=True)
for i in range(1000):  # re-export over and over until killed
    load_store(sys.argv[1], sys.argv[2], version(int(sys.argv[3 + i % 2])))
"""


def version(n: int):
    g, p = ox.NamedNode(GRAPH), ox.NamedNode("http://example.org/p")
    return lambda: (ox.Quad(ox.NamedNode(f"http://example.org/e{i}"), p, ox.Literal("v" * 40 + str(n)), g)
                    for i in range(n))


def graph_count(path: Path) -> tuple[int, int]:
    """(quads in the run's graph, quads in staging graphs) of the store at ``path``."""
    store = ox.Store(str(path))
    try:
        run = sum(1 for _ in store.quads_for_pattern(None, None, None, ox.NamedNode(GRAPH)))
        staging = sum(1 for q in store if isinstance(q.graph_name, ox.NamedNode)
                      and q.graph_name.value.startswith(STAGING_PREFIX))
        return run, staging
    finally:
        del store


@pytest.mark.parametrize("exchange", ["1", "0"], ids=["folder-exchange", "staging-move"])
def test_kill_during_re_export_always_leaves_a_complete_graph(tmp_path, monkeypatch, exchange):
    """Both ways of replacing: a checkpoint swapped in by renameat2, and staging + MOVE."""
    monkeypatch.setenv("RDF2MM_STORE_EXCHANGE", exchange)
    path = tmp_path / "store"
    load_store(path, GRAPH, version(OLD))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[2])}
    seen: set[int] = set()
    for delay in (0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.8, 1.2, 1.8):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), GRAPH, str(NEW), str(OLD)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            ready, _, _ = select.select([child.stdout], [], [], 60)
            assert ready and child.stdout.readline().strip() == b"ready", child.stderr.read().decode()[-2000:]
            time.sleep(delay)
            assert child.poll() is None, child.stderr.read().decode()[-2000:]
            child.send_signal(signal.SIGKILL)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=30)
        n, _staging = graph_count(path)
        assert n in (OLD, NEW), f"killed after {delay} s: the run's graph holds {n} quads"
        seen.add(n)
    # the next export cleans up whatever staging graph a kill left behind
    res = load_store(path, GRAPH, version(NEW))
    assert graph_count(path) == (NEW, 0)
    assert res["store_quads"] == NEW
    assert not (tmp_path / ".store.rdf2mm-export").exists()


def test_replacing_with_an_empty_graph_empties_it(tmp_path):
    path = tmp_path / "store"
    load_store(path, GRAPH, version(10))
    assert load_store(path, GRAPH, lambda: iter(()))["store_quads"] == 0


@pytest.mark.parametrize("n", [1, 500])
def test_other_graphs_are_untouched(tmp_path, n):
    path = tmp_path / "store"
    other = ox.Quad(ox.NamedNode("http://example.org/x"), ox.NamedNode("http://example.org/p"), ox.Literal("keep"),
                    ox.NamedNode("urn:other"))
    store = ox.Store(str(path))
    store.add(other)
    del store
    load_store(path, GRAPH, version(n))
    load_store(path, GRAPH, version(n))
    store = ox.Store(str(path))
    try:
        assert other in store and len(store) == n + 1
    finally:
        del store
