"""Benchmark ``rdf2mm export`` on a synthetic run of 10^5 entities and 10^5 predictions.

Builds a run directory (entities.parquet, embeddings.safetensors [N, d] float32,
predictions.tsv, config/provenance/metrics JSON), then times, per vector form
(rdf-tensor JSON, base64): building the vector literals, each output format, and a
load into an embedded pyoxigraph store; prints time and size per format as a table.

Usage::

    .venv/bin/python bench/bench_export.py                  # 100,000 entities, d = 64
    .venv/bin/python bench/bench_export.py --entities 10000 --dim 128
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def make_run(folder: Path, n: int, d: int, seed: int = 0) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import torch

    from rdf2mm.runs import save_embeddings, write_table

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    ents = [f"<http://example.org/bench/entity/{i}>" if i % 20 else f"_:b{i}" for i in range(n)]
    pq.write_table(pa.table({"term": ents}), folder / "entities.parquet")
    save_embeddings(folder, torch.from_numpy(rng.standard_normal((n, d)).astype(np.float32)))
    classes = [f"<http://example.org/bench/class/{k}>" for k in range(10)]
    write_table(folder / "predictions", {
        "entity": ents,
        "split": rng.choice(["train", "valid", "test", "unlabelled"], n).tolist(),
        "true_class": [classes[k] for k in rng.integers(0, 10, n)],
        "predicted_class": [classes[k] for k in rng.integers(0, 10, n)],
        "score": np.round(rng.random(n), 6).tolist(),
    })
    (folder / "config.json").write_text(json.dumps({"graph": ["bench.nt"], "task": "node-classification",
                                                    "embed_dim": d, "lr": 0.01, "epochs": 200, "seed": 0}))
    (folder / "provenance.json").write_text(json.dumps({"data_fingerprint": "0" * 64, "seeds": [0],
                                                        "started": "2025-01-01T00:00:00+00:00",
                                                        "ended": "2025-01-01T01:00:00+00:00",
                                                        "versions": {"rdf2mm": "0.1.0"}}))
    (folder / "metrics.json").write_text(json.dumps({"test_accuracy": 0.5}))
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entities", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--formats", default="parquet,nt,ttl,trig,nq")
    ap.add_argument("--no-store", action="store_true", help="skip the pyoxigraph store load")
    args = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    from rdf2mm import vocab as V
    from rdf2mm.export import RunGraph, load_run, write_parquet
    from rdf2mm.io.store import load_store
    from rdf2mm.io.write import RDF_FORMATS, write_rdf

    tmp = Path(tempfile.mkdtemp(prefix="rdf2mm-bench-export-"))
    try:
        run_dir = make_run(tmp / "run", args.entities, args.dim)
        table = Table(title=f"rdf2mm export: {args.entities:,} entities (d={args.dim}) + "
                            f"{args.entities:,} predictions")
        for col, just in (("vectors", "left"), ("step", "left"), ("seconds", "right"), ("MB", "right"),
                          ("bytes/entity", "right")):
            table.add_column(col, justify=just)
        t0 = time.perf_counter()
        run = load_run(run_dir)
        table.add_row("-", "read run dir", f"{time.perf_counter() - t0:.2f}", "", "")
        for vectors in ("tensor", "base64"):
            t0 = time.perf_counter()
            rg = RunGraph(run, vectors=vectors)
            table.add_row(vectors, "vector literals + terms", f"{time.perf_counter() - t0:.2f}", "", "")
            out = tmp / f"out-{vectors}"
            for fmt in args.formats.split(","):
                if fmt == "parquet":
                    if vectors == "base64":
                        continue  # Parquet stores raw float32 whatever --vectors says
                    t0 = time.perf_counter()
                    files = write_parquet(rg, out)
                    dt = time.perf_counter() - t0
                    size = sum(p.stat().st_size for p in files.values())
                    name = "parquet (" + ", ".join(p.name for p in files.values()) + ")"
                    vec = "raw"
                else:
                    t0 = time.perf_counter()
                    path = write_rdf(rg.quads, out / f"run{RDF_FORMATS[fmt][1]}", fmt, V.PREFIXES)
                    dt = time.perf_counter() - t0
                    size, name, vec = path.stat().st_size, path.name, vectors
                table.add_row(vec, name, f"{dt:.2f}", f"{size / 1e6:.1f}", f"{size / args.entities:,.0f}")
            if not args.no_store:
                t0 = time.perf_counter()
                res = load_store(tmp / f"store-{vectors}", rg.iri, rg.quads)
                dt = time.perf_counter() - t0
                size = sum(p.stat().st_size for p in (tmp / f"store-{vectors}").rglob("*") if p.is_file())
                table.add_row(vectors, f"pyoxigraph store load ({res['quads']:,} quads)", f"{dt:.2f}",
                              f"{size / 1e6:.1f}", f"{size / args.entities:,.0f}")
        Console().print(table)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
