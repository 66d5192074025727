"""``rdf2mm query`` and ``rdf2mm similar``: look into a store without leaving the shell."""
from __future__ import annotations

import json
import sys
from typing import Any, Optional

import typer
from rich.table import Table

from rdf2mm.cli.app import app, handle_errors, out, print_json


def _cell(term: object, prefixes: Any) -> str:
    """A result term for people: IRIs compacted, literals by their lexical form, nothing cut."""
    if term is None:
        return ""
    import pyoxigraph as ox

    if isinstance(term, ox.NamedNode):
        return prefixes.compact(term.value)
    return term.value if isinstance(term, ox.Literal) else str(term)


def _store_prefixes(store: str, **remote: Any) -> Any:
    """Common prefixes plus those of the graphs the store's runs were trained on (local stores)."""
    from pathlib import Path

    from rdf2mm.errors import Rdf2mmError
    from rdf2mm.io.prefixes import Prefixes, run_prefixes
    from rdf2mm.io.store import query, solutions
    from rdf2mm.vocab import HYPERPARAMETER, MLS

    if "://" in store or not Path(store).is_dir():
        return Prefixes()  # one more round trip to an endpoint is not worth compaction
    sparql = (f"SELECT DISTINCT ?v WHERE {{ GRAPH ?g {{ ?s <{MLS}specifiedBy> <{HYPERPARAMETER}graph> ; "
              f"<{MLS}hasValue> ?v }} }}")
    sources: list[str] = []
    try:
        for (value,) in solutions(query(store, sparql, **remote))[1]:
            found = json.loads(value.value) if value is not None else []
            sources.extend(found if isinstance(found, list) else [found])
    except (Rdf2mmError, ValueError):
        return Prefixes()
    return run_prefixes(sources, Path(store))


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
        from rdf2mm.io.prefixes import scan_declarations

        # the query's own PREFIX lines win: results read as the query was written
        prefixes = _store_prefixes(store, auth=Auth.resolve(user, password, token), timeout=timeout).with_declared(
            scan_declarations(sparql.encode("utf-8")))
        names, rows = solutions(result)
        table = Table(title=f"{len(rows)} result(s)")
        for n in names:
            table.add_column(n, overflow="fold")
        for row in rows:
            table.add_row(*[_cell(t, prefixes) for t in row])
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

      rdf2mm similar results.oxigraph ex:work3 --top 5    # the run's graph's prefixes work
    """
    with handle_errors():
        from rdf2mm.io.store import Auth, similar

        auth = Auth.resolve(user, password, token)
        prefixes = _store_prefixes(store, auth=auth, timeout=timeout)
        iri = prefixes.expand(iri, "IRI")
        res = similar(store, iri, top=top, run=run, auth=auth, timeout=timeout)
        if json_out:
            print_json(res)
            return
        table = Table(title=f"Nearest to {prefixes.compact(res['iri'])} in run <{res['run']}>")
        for col in ("rank", "entity", "cosine"):
            table.add_column(col, justify="left" if col == "entity" else "right", overflow="fold")
        for r in res["neighbours"]:
            table.add_row(str(r["rank"]), prefixes.compact(r["iri"]), f"{r['score']:.4f}")
        out.print(table)
