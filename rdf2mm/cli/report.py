"""``rdf2mm report``: a self-contained HTML page of a run directory."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rdf2mm.cli.app import app, handle_errors, info, print_json


@app.command("report")
def report_command(
    run_dir: Path = typer.Argument(..., help="A run directory written by rdf2mm train."),
    output: Optional[Path] = typer.Option(None, "--out", "-o", metavar="FILE", help="HTML file to write (default: RUN_DIR/report.html)."),
    old_output: Optional[Path] = typer.Option(None, "--output", hidden=True, help="Deprecated spelling of --out."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out even if it is not a page rdf2mm report wrote."),
    json_out: bool = typer.Option(False, "--json", help="Print the written path as one JSON object on stdout."),
) -> None:
    """Write one HTML page with training curves, confusion matrix, accuracy bars, an embedding PCA, config and versions.

    The page is self-contained (inline SVG, no scripts, no network) and written atomically.

    Examples:

      rdf2mm report runs/museum

      rdf2mm report runs/ablate-20260101-120000/split-all -o all.html
    """
    with handle_errors():
        from rdf2mm.report import write_report

        if old_output is not None:
            info("note: report --output is deprecated; write --out FILE (or -o FILE), as in every other command")
            output = output or old_output

        path = write_report(run_dir, output, force=force)
        if json_out:
            print_json({"report": str(path)})
        else:
            info(f"report written to [bold]{path}[/]")
