"""``rdf2mm encode``: write the model inputs (graph, vocabularies, literal tensors) without training."""
from __future__ import annotations

from typing import Optional

import typer

from rdf2mm.cli.app import app, handle_errors, info, out, print_json
from rdf2mm.cli.options import cpu_threads_option
from rdf2mm.training.threads import cpu_threads


@app.command("encode")
def encode_command(
    graph: list[str] = typer.Argument(..., help="RDF files, folders, a store folder, a SPARQL endpoint URL, or - for stdin."),
    out_dir: str = typer.Option(..., "--out", "-o", help="Output folder (written atomically: complete or not at all)."),
    as_: str = typer.Option("files", "--as", help="files: Parquet vocabularies + safetensors per modality; pyg: one torch-geometric object (load with rdf2mm.pyg.load_pyg)."),
    hetero: bool = typer.Option(False, "--hetero", help="With --as pyg: a HeteroData (a node type per modality) instead of Data with edge_type."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="Input format when it cannot be told from the extension."),
    modalities: str = typer.Option("all", "--modalities", "-m", help="all (default), none, or a list: numeric,temporal,textual,visual,spatial,boolean."),
    literals: str = typer.Option("split", "--literals", help="split (default): a node per literal occurrence; merged: a node per distinct literal; none."),
    text_encoder: str = typer.Option("charcnn", "--text-encoder", help="charcnn (character indices, default) or minilm (frozen all-MiniLM-L6-v2 features)."),
    image_encoder: str = typer.Option("mobilenet", "--image-encoder", help="mobilenet (pixels, default) or pretrained (frozen EfficientNet-Lite0 features, 1280 per image)."),
    modality_map: Optional[str] = typer.Option(None, "--modality-map", help="TOML file adding or overriding datatype -> modality rules."),
    no_inverse: bool = typer.Option(False, "--no-inverse", help="Leave out inverse relations (by default every edge has a reversed twin typed ^predicate)."),
    self_loops: bool = typer.Option(False, "--self-loops", help="Add one self-loop per node, typed with an extra 'self' relation."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing encode output folder."),
    force: bool = typer.Option(False, "--force", help="Replace --out even if it is not an encode output (its contents are deleted)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the parsed-graph cache."),
    threads: str = cpu_threads_option(),
    json_out: bool = typer.Option(False, "--json", help="Print the manifest as one JSON object on stdout."),
) -> None:
    """Encode GRAPH into integer-coded edges, vocabularies and literal tensors, for your own model.

    Examples:

      rdf2mm encode aifb.nt.gz -o aifb-encoded

      rdf2mm encode graph.ttl -o enc --as pyg --modalities numeric,textual --literals merged --self-loops
    """
    with handle_errors(), cpu_threads(threads):
        from rdf2mm.encoding import encode
        from rdf2mm.errors import UsageError

        if hetero and as_ != "pyg":
            raise UsageError("--hetero applies to --as pyg only")

        def note(stage: str, phase: str) -> None:
            if phase == "start":
                info(f"{stage} ...")

        enc = encode(
            graph, out_dir, to=as_, format=format, cache=not no_cache, modalities=modalities, literals=literals,
            inverse=not no_inverse, self_loops=self_loops, text_encoder=text_encoder, modality_map=modality_map,
            image_encoder=image_encoder, overwrite=overwrite, hetero=hetero, on_stage=note, force=force,
        )
        manifest = enc.manifest or {}
        if json_out:
            print_json(manifest)
            return
        from rich.table import Table

        c = manifest["counts"]
        info(
            f"{c['triples']} triples -> {c['nodes']} nodes ({c['entities']} entities, {c['literal_nodes']} literal nodes), "
            f"{c['edges']} edges, {c['relations']} relation types"
        )
        table = Table(title="Literal tensors")
        for col in ("modality", "nodes", "literals", "ill-typed", "row shape", "dtype"):
            table.add_column(col, justify="left" if col == "modality" else "right")
        for name, m in manifest["modalities"].items():
            table.add_row(name, str(m["nodes"]), str(m["literals"]), str(m["literals"] - m["valid"]),
                          "x".join(map(str, m["row_shape"])) or "-", m["dtype"])
        if manifest["modalities"]:
            out.print(table)
        info(f"written to [bold]{out_dir}[/] ({as_}); stage times: "
             + ", ".join(f"{k} {v:.2f}s" for k, v in enc.timings.items()))
