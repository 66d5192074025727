"""Benchmark exporting a run of 10^5 entities into Virtuoso against the embedded pyoxigraph store.

Builds the synthetic run of ``bench_export.py`` (N entities with d-dimensional float32
embeddings and N node predictions), then times, for the same RunGraph:

* the embedded store: :func:`rdf2mm.io.store.load_store` (staging graph + MOVE);
* Virtuoso (started here on 127.0.0.1 with a fresh database, Digest auth as ``dba``):
  SPARQL 1.1 Update batches into a staging graph + ``MOVE`` (``--sparql-update``), and
  Graph Store Protocol batches + ``MOVE`` (``--gsp`` with ``--sparql-update``);

and checks that each target then holds exactly the run's quads. Prints seconds, quads/s
and entities/s per target. Needs ``virtuoso-t`` (apt-get install virtuoso-opensource).

Usage::

    .venv/bin/python bench/bench_store.py                    # 100,000 entities, d = 64
    .venv/bin/python bench/bench_store.py --entities 10000 --dim 16 --targets update
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entities", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--batch-mb", type=float, default=4.0, help="body of one remote request, MiB")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per remote request")
    ap.add_argument("--targets", default="embedded,gsp,update",
                    help="any of embedded, gsp, update (update is slow: Virtuoso takes 1,000 triples per request)")
    args = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    from bench.bench_export import make_run
    from rdf2mm.export import RunGraph, load_run
    from rdf2mm.io.http import Auth
    from rdf2mm.io.store import load_store, push_gsp, push_sparql_update, query, solutions
    from tests.io.virtuoso import PASSWORD, USER, start_virtuoso

    tmp = Path(tempfile.mkdtemp(prefix="rdf2mm-bench-store-"))
    server = None
    try:
        rg = RunGraph(load_run(make_run(tmp / "run", args.entities, args.dim)))
        t0 = time.perf_counter()
        n_quads = sum(1 for _ in rg.quads())
        prep = time.perf_counter() - t0
        table = Table(title=f"rdf2mm export into stores: {args.entities:,} entities (d={args.dim}) + "
                            f"{args.entities:,} predictions = {n_quads:,} quads; batches of {args.batch_mb:g} MiB")
        for col in ("target", "requests", "seconds", "quads/s", "entities/s"):
            table.add_column(col, justify="left" if col == "target" else "right")
        table.add_row("(generating the quads alone)", "-", f"{prep:.1f}", f"{n_quads / prep:,.0f}", "")

        def row(name: str, requests: str, seconds: float) -> None:
            table.add_row(name, requests, f"{seconds:.1f}", f"{n_quads / seconds:,.0f}",
                          f"{args.entities / seconds:,.0f}")

        targets = set(args.targets.split(","))
        if "embedded" in targets:
            t0 = time.perf_counter()
            res = load_store(tmp / "store", rg.iri, rg.quads)
            row("embedded pyoxigraph store", "-", time.perf_counter() - t0)
            assert res["quads"] == n_quads

        server = start_virtuoso(tmp / "virtuoso", deadline_s=120)
        auth = Auth(USER, PASSWORD)
        batch = int(args.batch_mb * (1 << 20))
        count = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{rg.iri}> {{ ?s ?p ?o }} }}"
        for key, name, push in (
            ("update", "Virtuoso, SPARQL Update + MOVE", lambda: push_sparql_update(
                server.update, rg.iri, rg.quads, auth=auth, timeout=args.timeout, batch_bytes=batch)),
            ("gsp", "Virtuoso, GSP + MOVE", lambda: push_gsp(
                server.gsp, rg.iri, rg.quads, auth=auth, timeout=args.timeout, batch_bytes=batch,
                update_url=server.update)),
        ):
            if key not in targets:
                continue
            t0 = time.perf_counter()
            res = push()
            row(name, str(res["requests"]), time.perf_counter() - t0)
            _names, rows = solutions(query(server.sparql, count, timeout=args.timeout))
            held = int(rows[0][0].value)
            assert held == n_quads, f"{name}: Virtuoso holds {held} of {n_quads} quads"
        Console().print(table)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
