"""``rdf2mm query`` and ``rdf2mm similar``: look into a store without leaving the shell."""
from __future__ import annotations

import sys
from typing import Optional

import typer
from rich.table import Table

from rdf2mm.cli.app import app, handle_errors, out, print_json


def _cell(term: object, width: int = 80) -> str:
    if term is None:
        return ""
    import pyoxigraph as ox

    text = term.value if isinstance(term, (ox.NamedNode, ox.Literal)) else str(term)
    return text if len(text) <= width else text[: width - 1] + "…"


@app.command("query")
def query_command(
    store: str = typer.Argument(..., help="A pyoxigraph store folder or a SPARQL endpoint URL."),
    sparql: str = typer.Argument(..., help="SPARQL query text, or @FILE to read it from a file."),
    json_out: bool = typer.Option(False, "--json", help="SELECT/ASK: SPARQL 1.1 Query Results JSON on stdout."),
    user: Optional[str] = typer.Option(None, "--user", envvar="RDF2MM_SPARQL_USER", help="HTTP basic user."),
    password: Optional[str] = typer.Option(None, "--password", envvar="RDF2MM_SPARQL_PASSWORD", help="HTTP basic password."),
    token: Optional[str] = typer.Option(None, "--token", envvar="RDF2MM_SPARQL_TOKEN", help="Bearer token."),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds to wait for an endpoint."),
) -> None:
    """Run a SPARQL query on a store and print the answer as a table.

    CONSTRUCT and DESCRIBE print N-Triples.

    Examples:

      rdf2mm query results.oxigraph 'SELECT ?run WHERE { GRAPH ?run { ?run a <http://www.w3.org/ns/mls#Run> } }'

      rdf2mm query results.oxigraph @examples/queries/top_predictions.rq --json
    """
    with handle_errors():
        import pyoxigraph as ox

        from rdf2mm.errors import InputError
        from rdf2mm.io.store import Auth, query, results_json, solutions

        if sparql.startswith("@"):
            try:
                with open(sparql[1:], encoding="utf-8-sig") as fh:  # -sig: tolerate a byte-order mark
                    sparql = fh.read()
            except OSError as exc:
                raise InputError(f"{sparql[1:]}: cannot read: {exc.strerror}") from None
            except UnicodeDecodeError as exc:
                raise InputError(f"{sparql[1:]}: not UTF-8 text ({exc.reason})") from None
        result = query(store, sparql, auth=Auth.resolve(user, password, token), timeout=timeout)
        if isinstance(result, list):  # CONSTRUCT / DESCRIBE
            for t in result:
                sys.stdout.write(f"{t} .\n")
            return
        if json_out:
            print_json(results_json(result))
            return
        if isinstance(result, ox.QueryBoolean):
            out.print("true" if bool(result) else "false")
            return
        names, rows = solutions(result)
        table = Table(title=f"{len(rows)} result(s)")
        for n in names:
            table.add_column(n, overflow="fold")
        for row in rows:
            table.add_row(*[_cell(t) for t in row])
        out.print(table)


@app.command("similar")
def similar_command(
    store: str = typer.Argument(..., help="A pyoxigraph store folder or a SPARQL endpoint URL."),
    iri: str = typer.Argument(..., help="The entity IRI (skolem IRI for blank nodes)."),
    top: int = typer.Option(10, "--top", help="How many neighbours to list."),
    run: Optional[str] = typer.Option(None, "--run", help="Run IRI (default: the latest run that embeds IRI)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    user: Optional[str] = typer.Option(None, "--user", envvar="RDF2MM_SPARQL_USER", help="HTTP basic user."),
    password: Optional[str] = typer.Option(None, "--password", envvar="RDF2MM_SPARQL_PASSWORD", help="HTTP basic password."),
    token: Optional[str] = typer.Option(None, "--token", envvar="RDF2MM_SPARQL_TOKEN", help="Bearer token."),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds to wait for an endpoint."),
) -> None:
    """Nearest entities to IRI by cosine similarity of the embeddings stored for a run.

    Example:

      rdf2mm similar results.oxigraph http://example.org/museum#work3 --top 5
    """
    with handle_errors():
        from rdf2mm.io.store import Auth, similar

        res = similar(store, iri, top=top, run=run, auth=Auth.resolve(user, password, token), timeout=timeout)
        if json_out:
            print_json(res)
            return
        table = Table(title=f"Nearest to <{res['iri']}> in run <{res['run']}>")
        for col in ("rank", "entity", "cosine"):
            table.add_column(col, justify="left" if col == "entity" else "right")
        for r in res["neighbours"]:
            table.add_row(str(r["rank"]), r["iri"], f"{r['score']:.4f}")
        out.print(table)
