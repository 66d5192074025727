"""The Parquet side of an export: one table per kind of result, IRIs as plain strings."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pyoxigraph as ox

from rdf2mm.export.rdf import RunGraph
from rdf2mm.io.write import write_embeddings_parquet, write_table_parquet


def write_parquet(rg: RunGraph, out: Path) -> dict[str, Path]:
    """The run's embeddings, predictions and ranks as Parquet tables in ``out``; name -> path."""
    import pyarrow as pa

    r, run = rg.run, rg.iri
    meta = {"rdf2mm.run": run, "rdf2mm.vectors": "float32"}
    files = {"embeddings": write_embeddings_parquet(
        out / "embeddings.parquet",
        {"iri": rg.entity_iris, "term": r.entities, "run": [run] * len(r.entities)},
        r.entity_embeddings, meta)}
    if r.relation_embeddings is not None and len(rg.relation_vectors):
        files["relation_embeddings"] = write_embeddings_parquet(
            out / "relation_embeddings.parquet",
            {"iri": [rg.term(x).value for x in r.relations], "run": [run] * len(r.relations)},
            r.relation_embeddings, meta)
    p = r.predictions
    if p and "entity" in p:
        n = len(p["entity"])
        files["predictions"] = write_table_parquet(out / "predictions.parquet", {
            "iri": pa.array([_plain(rg.term(e)) for e in p["entity"]], pa.string()),
            "split": pa.array([str(x) for x in p.get("split", [""] * n)], pa.string()),
            "true_class": pa.array([_plain(rg.term(x)) if x else None for x in p.get("true_class", [""] * n)],
                                   pa.string()),
            "predicted_class": pa.array([_plain(rg.term(x)) if x else None
                                         for x in p.get("predicted_class", [""] * n)], pa.string()),
            "score": pa.array([float(x) if x not in (None, "") else None for x in p.get("score", [None] * n)],
                              pa.float64()),
            "run": pa.array([run] * n, pa.string()),
        }, meta)
    for name, table in (("link_predictions", r.link_predictions), ("ranks", r.ranks)):
        if table and {"head", "relation", "tail"} <= set(table):
            n = len(table["head"])
            cols: dict[str, Any] = {c: pa.array([rg.term(str(x)).value for x in table[c]], pa.string())
                                    for c in ("head", "relation", "tail")}
            # Scores and realistic ranks (a tie ranks halfway, 2.5) are both real numbers.
            for c, v in table.items():
                if c not in cols:
                    cols[c] = pa.array([None if x in (None, "") else float(x) for x in v], pa.float64())
            cols["run"] = pa.array([run] * n, pa.string())
            files[name] = write_table_parquet(out / f"{name}.parquet", cols, meta)
    return files


def _plain(term: ox.NamedNode | ox.Literal) -> str:
    """IRIs as plain strings (for joins in pandas/DuckDB); literals in N-Triples form."""
    return term.value if isinstance(term, ox.NamedNode) else str(term)
