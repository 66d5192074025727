"""``rdf2mm predict``: use a trained run to label nodes or rank link candidates."""
from __future__ import annotations

from typing import Any, Optional

import typer
from rich.table import Table

from rdf2mm.cli.app import app, handle_errors, info, out, print_json
from rdf2mm.cli.options import cpu_threads_option
from rdf2mm.training.threads import cpu_threads


@app.command("predict")
def predict_command(
    run_dir: str = typer.Argument(..., help="A run directory written by rdf2mm train."),
    graph: Optional[list[str]] = typer.Argument(None, help="An updated graph to predict on (default: the run's own graph)."),
    node: Optional[list[str]] = typer.Option(None, "--node", "-n", help="Entity IRI to classify (repeatable; default: the unlabelled entities like the labelled ones)."),
    head: Optional[str] = typer.Option(None, "--head", help="Link prediction: rank tails for this head IRI."),
    relation: Optional[str] = typer.Option(None, "--relation", help="Link prediction: the relation IRI."),
    tail: Optional[str] = typer.Option(None, "--tail", help="Link prediction: rank heads for this tail IRI."),
    top: int = typer.Option(10, "--top", help="Link prediction: how many candidates to list."),
    all_candidates: bool = typer.Option(False, "--all-candidates", help="Link prediction: rank every entity, not only those of the relation's range (tails) or domain (heads)."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="Format of GRAPH when not given by its extension."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    threads: str = cpu_threads_option(),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Label unlabelled nodes (node classification) or rank link candidates (link prediction).

    Examples:

      rdf2mm predict runs/museum

      rdf2mm predict runs/museum updated.ttl --node ex:work3 --json

      rdf2mm predict runs/lp --head http://example.org/a --relation http://example.org/knows --top 5

    Link prediction ranks only entities of the kind the relation points to (--head: its
    range) or starts from (--tail: its domain), decided from the run's training graph:
    the entities of the rdf:type(s) of the relation's tails (heads) there, or, where
    those have no rdf:type, the entities seen as its tails (heads). --all-candidates
    ranks every entity.
    """
    with handle_errors(), cpu_threads(threads):
        prefixes = _prefixes(run_dir, graph)
        head = prefixes.expand(head, "--head") if head else head
        tail = prefixes.expand(tail, "--tail") if tail else tail
        relation = prefixes.expand(relation, "--relation") if relation else relation
        node = prefixes.expand_all(node, "--node") if node else node
        if head or tail or relation:
            from rdf2mm.errors import UsageError
            from rdf2mm.tasks.prediction import load_link_predictor, predict_links, query_candidates

            if not relation or bool(head) == bool(tail):
                raise UsageError("link prediction needs --relation and exactly one of --head or --tail")

            model = load_link_predictor(run_dir)
            side = "tail" if head else "head"
            rule = "every entity (--all-candidates)" if all_candidates else \
                query_candidates(model, relation, side).describe(side, relation.strip().strip("<>"))
            rows = predict_links(run_dir, head=head, relation=relation, tail=tail, top=top, model=model,
                                 all_candidates=all_candidates)
            if json_out:
                print_json({"head": head, "relation": relation, "tail": tail, "ranked": rule, "candidates": rows})
                return
            info(rule)
            anchor = prefixes.compact(head or tail or "")
            query = f"({anchor}, {prefixes.compact(relation)}, ?)" if head else f"(?, {prefixes.compact(relation)}, {anchor})"
            table = Table(title=f"Top {top} {'tails' if head else 'heads'} for {query}")
            for col in ("rank", "candidate", "score"):
                table.add_column(col, justify="right" if col != "candidate" else "left", overflow="fold")
            for r in rows:
                table.add_row(str(r["rank"]), prefixes.compact_term(r["iri"]), f"{r['score']:.4f}")
            out.print(table)
            return
        from rdf2mm.tasks.prediction import predict_nodes

        rows = predict_nodes(run_dir, graph=graph or None, nodes=node or None, device=device, format=format)
        if json_out:
            print_json({"predictions": rows})
            return
        table = Table(title=f"Predictions ({len(rows)})")
        for col in ("entity", "predicted class", "score"):
            # folded, never cut: the predicted class is the answer
            table.add_column(col, justify="right" if col == "score" else "left", overflow="fold")
        for r in rows:
            table.add_row(prefixes.compact_term(r["entity"]), prefixes.compact_term(r["predicted_class"]), f"{r['score']:.3f}")
        out.print(table)


def _prefixes(run_dir: str, graph: Optional[list[str]]) -> Any:
    """The run's graph's prefixes (and GRAPH's), over the common ones."""
    from rdf2mm.errors import Rdf2mmError
    from rdf2mm.io.prefixes import declared_prefixes, run_prefixes
    from rdf2mm.runs.read import RunFiles

    try:
        sources = RunFiles(run_dir).config(default={}).get("graph") or []
    except Rdf2mmError:
        sources = []  # a damaged config is predict's own error to report, with its exit code
    prefixes = run_prefixes(sources, run_dir)
    return prefixes.with_declared(declared_prefixes(graph)) if graph else prefixes
