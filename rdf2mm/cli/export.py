"""``rdf2mm export``: a run's embeddings and predictions as Parquet/RDF, into stores."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from rdf2mm.cli.app import app, handle_errors, info, out, print_json


def _format_list(text: str) -> bool:
    """True when ``text`` reads as a list of export formats (the old meaning of ``-o``)."""
    from rdf2mm.export import OUTPUTS

    names = [t.strip() for t in text.split(",") if t.strip()]
    return bool(names) and all(n in OUTPUTS or n == "none" for n in names)


@app.command("export")
def export_command(
    run_dir: str = typer.Argument(..., help="A run directory written by rdf2mm train."),
    output: Optional[str] = typer.Option(
        None, "--output", metavar="FORMAT[,FORMAT...]",
        help="Files to write: any of parquet, nt, ttl, trig, nq, comma-separated, or none. "
             "Default: parquet,trig, or none when --store/--sparql-update/--gsp is given."),
    out_dir: Optional[str] = typer.Option(None, "--out", "-o", metavar="DIR", help="Folder for the files (default: RUN_DIR/export)."),
    vectors: str = typer.Option("tensor", "--vectors", help="Vector literals: tensor (rdf-tensor JSON) or base64."),
    base: Optional[str] = typer.Option(None, "--base", help="Base IRI for the run, its nodes and skolemised blank nodes."),
    store: Optional[str] = typer.Option(None, "--store", help="Load into this pyoxigraph store folder (created if absent)."),
    sparql_update: Optional[str] = typer.Option(None, "--sparql-update", help="Push to this SPARQL 1.1 Update endpoint."),
    gsp: Optional[str] = typer.Option(None, "--gsp", help="Push to this Graph Store Protocol endpoint."),
    user: Optional[str] = typer.Option(None, "--user", envvar="RDF2MM_SPARQL_USER", help="HTTP basic user (env RDF2MM_SPARQL_USER)."),
    password: Optional[str] = typer.Option(None, "--password", envvar="RDF2MM_SPARQL_PASSWORD", show_envvar=True,
                                           help="HTTP basic password (prefer the env var RDF2MM_SPARQL_PASSWORD)."),
    token: Optional[str] = typer.Option(None, "--token", envvar="RDF2MM_SPARQL_TOKEN", help="Bearer token (env RDF2MM_SPARQL_TOKEN)."),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds each remote request may take in all."),
    batch_mb: float = typer.Option(4.0, "--batch-mb", help="Largest body of one remote request, in MiB: bigger "
                                   "graphs go in batches into a staging graph, swapped in at the end."),
    force: bool = typer.Option(False, "--force", help="Let --out replace a folder that is not an rdf2mm export (its contents are deleted)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON summary on stdout."),
) -> None:
    """Write a run's embeddings and predictions as Parquet and RDF, or load them into a store.

    Each run is one named graph (its IRI is printed); re-exporting replaces it.

    Examples:

      rdf2mm export runs/museum

      rdf2mm export runs/museum --output parquet,ttl --vectors base64

      rdf2mm export runs/museum --store results.oxigraph

      rdf2mm export runs/museum --gsp http://localhost:7878/store

      rdf2mm export runs/museum --gsp http://localhost:7878/store --sparql-update http://localhost:7878/update
    """
    with handle_errors():
        from rdf2mm.export import DEFAULT_OUTPUTS, export_run

        from rdf2mm.errors import UsageError

        if not (0 < batch_mb < float("inf")):
            raise UsageError(f"--batch-mb must be a positive number, not {batch_mb}")
        if out_dir and output is None and _format_list(out_dir) and not Path(out_dir).exists():
            # -o used to mean the formats here; it is the output path in every command now
            info(f"note: -o is the output folder now; reading -o {out_dir} as --output {out_dir} "
                 "(deprecated: write --output FORMATS)")
            output, out_dir = out_dir, None
        outputs = output if output is not None else (() if (store or sparql_update or gsp) else DEFAULT_OUTPUTS)
        summary = export_run(run_dir, outputs, out_dir, vectors=vectors, base=base, store=store,
                             sparql_update=sparql_update, gsp=gsp, user=user, password=password, token=token,
                             timeout=timeout, batch_bytes=max(1, int(batch_mb * (1 << 20))), progress=info,
                             force=force)
        if json_out:
            print_json(summary)
            return
        c = summary["counts"]
        info(f"run <{summary['run']}>: {c['entities']} entities (d={c['dimension']}), {c['predictions']} predictions, "
             f"{c['link_predictions']} link predictions, {c['ranked_triples']} ranked triples")
        if summary["files"]:
            table = Table(title=f"Exported to {summary.get('out_dir')}")
            table.add_column("file")
            table.add_column("bytes", justify="right")
            for name, f in summary["files"].items():
                table.add_row(name, f"{f['bytes']:,}")
            out.print(table)
