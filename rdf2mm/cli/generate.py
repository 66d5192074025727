"""``rdf2mm generate``: write a synthetic multimodal graph with planted, known label signal."""
from __future__ import annotations

from pathlib import Path

import typer

from rdf2mm.cli.app import app, handle_errors, info, print_json


def _fractions(text: str, option: str) -> tuple[float, ...]:
    from rdf2mm.errors import UsageError

    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise UsageError(f"{option} must be three comma-separated fractions such as 0.6,0.2,0.2, got {text!r}") from None


@app.command("generate")
def generate_command(
    out_dir: Path = typer.Argument(..., help="Folder to write (created; our files in it are replaced)."),
    triples: int = typer.Option(10_000, "--triples", "-n", help="Approximate number of triples in graph (10^3 to 10^7)."),
    classes: int | None = typer.Option(None, "--classes", "-k", help="Number of classes (2 to 50); link-prediction: latent values = hubs of the target relation (visual at most 6, textual at most 8) [default: 2; link-prediction: 6]."),
    signal: str = typer.Option("all", "--signal", "-s", help="Modalities carrying the label: all, none, or a list such as numeric,visual."),
    structure_signal: float = typer.Option(0.0, "--structure-signal", help="Probability that an item joins a group of its own class (0: structure carries no label)."),
    strength: float = typer.Option(1.0, "--strength", help="Probability that a planted literal follows its item's class (1: separable, 0: noise)."),
    ill_typed: float = typer.Option(0.0, "--ill-typed", help="Share of literals per modality written ill-typed on purpose."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives byte-identical files."),
    format: str = typer.Option("nt", "--format", "-f", help="Output syntax: nt or ttl."),
    gzip: bool = typer.Option(False, "--gzip", help="Compress graph and link-prediction files (.gz)."),
    image_size: int = typer.Option(32, "--image-size", help="Side of the generated images in pixels."),
    image_format: str = typer.Option("jpeg", "--image-format", help="jpeg or png."),
    image_style: str = typer.Option("blob", "--image-style", help="blob (shape and hue follow the class) or shapes (only the kind of shape does: disk, square, triangle, cross, ring, diamond; at most 6 classes)."),
    modalities: str = typer.Option("all", "--modalities", "-m", help="Literal modalities the items carry at all: all, or a list such as visual (--signal is cut to them)."),
    max_images: int = typer.Option(20_000, "--max-images", help="Only this many items get an image (images dominate cost)."),
    split: str = typer.Option("0.6,0.2,0.2", "--split", help="Label split fractions train,valid,test (stratified)."),
    lp_split: str = typer.Option("0.8,0.1,0.1", "--lp-split", help="Link-prediction split fractions of the entity-entity triples."),
    link_strength: float = typer.Option(0.8, "--link-strength", help="Probability that an item's group, tags and related item come from its latent cluster (1: links fully predictable, 0: random)."),
    task: str = typer.Option("node-classification", "--task", help="node-classification (labels planted in --signal) or link-prediction (ex:hasCategory tails planted in --plant)."),
    plant: str | None = typer.Option(None, "--plant", help="link-prediction: the modality whose literal decides the target tail: numeric, textual, visual, spatial, or none (a control graph) [default: numeric]."),
    missing: float | None = typer.Option(None, "--missing", help="link-prediction: share of items lacking each modality's literal [default: 0.2]."),
    entities: int | None = typer.Option(None, "--entities", help="link-prediction: number of items (sets the size instead of --triples) [default: 2000]."),
    json_out: bool = typer.Option(False, "--json", help="Print the manifest as one JSON object on stdout."),
) -> None:
    """Generate a graph whose items carry literals of every modality, with the label planted where asked.

    Writes graph.nt (or .ttl, .gz), labels/{train,valid,test}.nt, labels/all.tsv,
    lp/{train,valid,test}.nt and manifest.json.

    Examples:

      rdf2mm generate data/synth --triples 100000 --signal numeric,visual

      rdf2mm generate data/noise --signal none --structure-signal 0.8 --json | jq .counts

      rdf2mm generate data/shapes --triples 11000 --classes 4 --modalities visual --image-style shapes --image-size 16

      rdf2mm generate data/lp-num --task link-prediction --plant numeric --missing 0.2 --entities 2000

    With --task link-prediction the tail of ex:hasCategory is planted in one modality
    (--plant) and the rest of the structure is independent of it; the options read are
    --entities, --classes, --plant, --missing, --seed, --format, --gzip, --image-size,
    --image-format, --modalities (of numeric, textual, visual, spatial), --lp-split and
    --link-strength. Writes lp/{train,valid,test}.nt (valid/test: the planted relation
    only), lp/{valid,test}-structure.nt, graph.nt, latent.tsv, README.md, manifest.json.
    """
    with handle_errors():
        from rdf2mm.errors import UsageError

        task_name = task.strip().lower()
        if task_name in ("lp", "link-prediction"):
            _planted(out_dir, entities, 6 if classes is None else classes, plant, missing, seed, format, gzip, image_size, image_format,
                     modalities, _fractions(lp_split, "--lp-split"), link_strength, json_out)
            return
        if task_name not in ("nc", "node-classification"):
            raise UsageError(f"--task must be node-classification or link-prediction, got {task!r}")
        given = [name for name, v in (("--plant", plant), ("--missing", missing), ("--entities", entities)) if v is not None]
        if given:
            raise UsageError(f"{', '.join(given)} only apply with --task link-prediction")
        from rdf2mm.synthetic import generate

        ds = generate(
            out_dir,
            triples=triples,
            classes=2 if classes is None else classes,
            signal=signal,
            structure_signal=structure_signal,
            strength=strength,
            ill_typed=ill_typed,
            seed=seed,
            format=format,
            compress=gzip,
            image_size=image_size,
            image_format=image_format,
            max_images=max_images,
            split=_fractions(split, "--split"),
            lp_split=_fractions(lp_split, "--lp-split"),
            link_strength=link_strength,
            modalities=modalities,
            image_style=image_style,
        )
        m = ds.manifest
        if json_out:
            print_json(m)
            return
        c = m["counts"]
        planted = [k for k, v in m["planted"].items() if v is True] or ["nothing"]
        info(
            f"[bold]wrote[/] {ds.out_dir} in {ds.elapsed_s:.1f} s: {c['triples']:,} triples "
            f"({c['entity_triples']:,} entity, {c['literal_triples']:,} literal), "
            f"{c['items']:,} items, {c['groups']:,} groups, {c['tags']:,} tags, {c['images']:,} images"
        )
        info("literals: " + ", ".join(f"{k} {v:,}" for k, v in m["literals"]["by_modality"].items()))
        info(f"label signal planted in: {', '.join(planted)} (strength {m['parameters']['strength']:g})")
        if m["ill_typed"]["total"]:
            info(f"ill-typed literals: {m['ill_typed']['total']:,}")
        lab, lp = c["labels"], c["lp"]
        info(
            f"labels ({m['target_predicate']}): train {lab['train']:,} / valid {lab['valid']:,} / test {lab['test']:,}; "
            f"link prediction: train {lp['train']:,} / valid {lp['valid']:,} / test {lp['test']:,}"
        )


def _planted(out_dir: Path, entities: int | None, classes: int, plant: str | None, missing: float | None, seed: int,
             format: str, gzip: bool, image_size: int, image_format: str, modalities: str,
             lp_split: tuple[float, ...], link_strength: float, json_out: bool) -> None:
    """``generate --task link-prediction``: a graph whose target tails are planted in ``plant``."""
    from rdf2mm.synthetic import generate_planted_lp

    ds = generate_planted_lp(
        out_dir, entities=2000 if entities is None else entities, classes=classes,
        plant="numeric" if plant is None else plant, missing=0.2 if missing is None else missing, seed=seed,
        format=format, compress=gzip, image_size=image_size, image_format=image_format, lp_split=lp_split,
        link_strength=link_strength, modalities=modalities,
    )
    m = ds.manifest
    if json_out:
        print_json(m)
        return
    c, p = m["counts"], m["parameters"]
    info(f"[bold]wrote[/] {ds.out_dir} in {ds.elapsed_s:.1f} s: {c['triples']:,} triples, {c['items']:,} items, "
         f"{c['groups']:,} groups, {c['tags']:,} tags, {c['hubs']} hubs")
    info(f"target relation {m['planted_relation']}: tail planted in {p['plant']}; "
         f"{p['missing']:.0%} of the items lack each modality's literal")
    info("literals: " + ", ".join(f"{k} {v:,}" for k, v in c["literals"].items()))
    lp, held = c["lp"], c["lp_structure"]
    info(f"link prediction: train {lp['train']:,} / valid {lp['valid']:,} / test {lp['test']:,} "
         f"(held-out structure: valid {held['valid']:,} / test {held['test']:,})")
