"""``rdf2mm inspect``: what is in a graph, by modality and datatype."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from rdf2mm.cli.app import app, handle_errors, out, print_json


@app.command("inspect")
def inspect_command(
    sources: list[str] = typer.Argument(..., help="RDF files, folders, a store folder, a SPARQL endpoint URL, or - for stdin."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="Input format (turtle, nt, nq, trig, xml, jsonld, n3); default: from the file extension."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    modality_map: Optional[Path] = typer.Option(None, "--modality-map", help="TOML file adding or overriding datatype -> modality rules."),
    no_validate: bool = typer.Option(False, "--no-validate", help="Skip parsing every literal (faster; no ill-typed counts)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the parsed-graph cache."),
    top: int = typer.Option(10, "--top", help="How many predicates to list."),
) -> None:
    """Count triples, entities, relations, and literals per modality and datatype; report ill-typed literals.

    Examples:

      rdf2mm inspect examples/museum.ttl

      rdf2mm inspect data/*.nt.gz --json | jq .literals.by_modality

      zcat graph.nt.gz | rdf2mm inspect - --format nt
    """
    with handle_errors():
        from rdf2mm.graph.ingest import read_graph_deferred
        from rdf2mm.modalities.inspection import inspect_graph
        from rdf2mm.modalities.registry import ModalityMap

        mmap = ModalityMap.from_toml(modality_map) if modality_map else ModalityMap()
        # the parsed-graph cache is written while a child process checks the images
        kg, _, write_cache = read_graph_deferred(sources, format=format, cache=not no_cache)
        report = inspect_graph(kg, mmap, validate=not no_validate, top=top, while_checking=write_cache)
        if json_out:
            print_json(report)
            return
        from rdf2mm.io.prefixes import prefixes_for

        _print_report(report, prefixes_for(sources, format))


def _print_report(r: dict, prefixes: Any) -> None:
    """The report as tables, IRIs compacted with ``prefixes`` (``--json`` keeps them full)."""
    summary = Table(title="Graph", show_header=False)
    summary.add_column("what")
    summary.add_column("count", justify="right")
    for label, value in [
        ("triples", r["triples"]),
        ("entity-entity triples", r["entity_triples"]),
        ("entity-literal triples", r["literal_triples"]),
        ("entities", r["entities"]),
        ("  IRIs", r["iris"]),
        ("  blank nodes", r["blank_nodes"]),
        ("relations", r["relations"]),
        ("literals (distinct)", r["literals"]["distinct"]),
        ("ill-typed literals (skipped)", r["ill_typed"]["total"] if r["ill_typed"]["total"] is not None else "not checked"),
        ("non-standard literals (accepted)", r["accepted_nonstandard"]["total"]),
    ]:
        summary.add_row(label, f"{value:,}" if isinstance(value, int) else str(value))
    out.print(summary)
    mod = Table(title="Literals per modality")
    mod.add_column("modality")
    mod.add_column("literals", justify="right")
    for name, n in r["literals"]["by_modality"].items():
        if n:
            mod.add_row(name, f"{n:,}")
    out.print(mod)
    dts = Table(title="Literals per datatype")
    names = {dt: prefixes.compact(dt) if dt else "(plain)" for dt in r["datatypes"]}
    for col in ("datatype", "modality", "literals", "distinct", "ill-typed", "why"):
        # the datatype is the answer: never cut; the reasons wrap instead
        dts.add_column(col, justify="right" if col in ("literals", "distinct", "ill-typed") else "left",
                       overflow="fold", no_wrap=col == "datatype")
    for dt, d in r["datatypes"].items():
        why = ", ".join(f"{k}: {v}" for k, v in (d["ill_typed_reasons"] or {}).items())
        why += "".join(f"; accepted, {k}: {v}" for k, v in d["accepted_nonstandard"].items())
        ill = "-" if d["ill_typed"] is None else f"{d['ill_typed']:,}"
        dts.add_row(names[dt], d["modality"], f"{d['literals']:,}", f"{d['distinct']:,}", ill, why)
    out.print(dts)
    preds = Table(title="Top predicates")
    preds.add_column("predicate", overflow="fold")
    preds.add_column("triples", justify="right")
    for p in r["top_predicates"]:
        preds.add_row(prefixes.compact(p["predicate"]), f"{p['triples']:,}")
    out.print(preds)
