"""The synthetic generator: :func:`generate` and the orchestration of its parts."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from rdf2mm.errors import UsageError
from rdf2mm.io.atomic import public_mode
from rdf2mm.synthetic.literals import LiteralMixin, _vocabulary
from rdf2mm.synthetic.output import _move_into, _Sink, _Syntax
from rdf2mm.synthetic.params import (
    CHUNK_ITEMS,
    DATATYPE_MODALITY,
    ENTITY_CHUNK,
    EX,
    MODALITIES,
    TARGET_CLASS,
    TARGET_PREDICATE,
    _ITEM_LITERALS,
    _RELATIONS,
    _plan_items,
    _sizes,
    _validate,
    class_iri,
)
from rdf2mm.synthetic.structure import StructureMixin
from rdf2mm.vocab import RDFS


# --------------------------------------------------------------------------- API


@dataclass(frozen=True)
class GeneratedDataset:
    """What :func:`generate` wrote: the folder, its manifest, and the time it took."""

    out_dir: Path
    manifest: dict[str, Any]
    elapsed_s: float

    @property
    def graph_path(self) -> Path:
        return self.out_dir / self.manifest["paths"]["graph"]

    def labels_path(self, split: str) -> Path:
        """``labels/<split>.nt`` for ``train``, ``valid`` or ``test``."""
        return self.out_dir / self.manifest["paths"]["labels"][split]

    def lp_path(self, split: str) -> Path:
        """Link-prediction split file for ``train``, ``valid`` or ``test``."""
        return self.out_dir / self.manifest["paths"]["lp"][split]

    @property
    def triples(self) -> int:
        return int(self.manifest["counts"]["triples"])


def generate(
    out_dir: str | os.PathLike[str],
    *,
    triples: int = 10_000,
    classes: int = 2,
    signal: str | Iterable[str] | None = MODALITIES,
    structure_signal: float = 0.0,
    strength: float = 1.0,
    ill_typed: float = 0.0,
    seed: int = 0,
    format: str = "nt",
    compress: bool = False,
    image_size: int = 32,
    image_format: str = "jpeg",
    max_images: int = 20_000,
    split: Sequence[float] = (0.6, 0.2, 0.2),
    lp_split: Sequence[float] = (0.8, 0.1, 0.1),
    link_strength: float = 0.8,
    modalities: str | Iterable[str] | None = MODALITIES,
    image_style: str = "blob",
) -> GeneratedDataset:
    """Write a synthetic multimodal graph, labels, link-prediction splits and a manifest.

    ``triples`` sets the graph size (within a few percent); ``signal`` names the
    modalities that carry the label; ``strength`` is the probability that one of their
    literals follows its item's class; ``structure_signal`` the probability that an item
    joins a group of its class; ``ill_typed`` the share of literals per modality written
    ill-typed on purpose. ``modalities`` names the literal modalities items (and groups,
    tags) carry at all (``signal`` is cut to them); ``image_style`` ``"shapes"`` puts the
    class in the kind of shape only (colour, position and size drawn independently of
    it, the area too, so no colour statistic tells the class). Files appear in
    ``out_dir`` only once all are complete.
    """
    started = time.perf_counter()
    p = _validate(
        triples=triples, classes=classes, signal=signal, structure_signal=structure_signal,
        strength=strength, ill_typed=ill_typed, seed=seed, format=format, compress=compress,
        image_size=image_size, image_format=image_format, max_images=max_images,
        split=split, lp_split=lp_split, link_strength=link_strength, modalities=modalities,
        image_style=image_style,
    )
    return write_dataset(out_dir, _Generator(p).run, started)


def write_dataset(out_dir: str | Path, run: Callable[[Path], dict[str, Any]], started: float) -> GeneratedDataset:
    """``run(folder)`` writes a dataset into a fresh hidden folder beside ``out_dir`` and
    returns its manifest; the files then move into ``out_dir`` all at once, so an
    interrupted generator leaves no half-written dataset."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"output path {out} exists and is not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    public_mode(tmp, folder=True)  # mkdtemp's 0700 would otherwise stick to a fresh out_dir
    try:
        manifest = run(tmp)
        _move_into(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return GeneratedDataset(out_dir=out, manifest=manifest, elapsed_s=time.perf_counter() - started)


class _Generator(StructureMixin, LiteralMixin):
    def __init__(self, p: dict[str, Any]):
        self.p = p
        self.k: int = p["classes"]
        self.syn = _Syntax(p["format"])
        self.ext = (".nt" if p["format"] == "nt" else ".ttl") + (".gz" if p["compress"] else "")
        self.carried = set(p["modalities"])
        self.n = _plan_items(p["triples"], self.k, p["max_images"], p["modalities"])
        self.c, self.m, self.g, self.t = _sizes(self.n, self.k)
        self.n_images = min(self.n, p["max_images"]) if "visual" in self.carried else 0
        self.signal = set(p["signal"])
        self.by_datatype: Counter[str] = Counter()
        self.ill: Counter[str] = Counter()
        self.quirks: Counter[str] = Counter()
        self.shared_words, self.class_words = _vocabulary(self.k)

    # ---------------------------------------------------------------- orchestration

    def run(self, tmp: Path) -> dict[str, Any]:
        p, syn = self.p, self.syn
        labels = self.make_labels()
        rels = self.make_structure(labels)
        lp_split = self.split_links(rels)

        paths = {
            "graph": "graph" + self.ext,
            "labels": {s: f"labels/{s}.nt" for s in ("train", "valid", "test")},
            "labels_tsv": "labels/all.tsv",
            "lp": {s: f"lp/{s}{self.ext}" for s in ("train", "valid", "test")},
            "manifest": "manifest.json",
        }
        graph = _Sink(tmp / paths["graph"], p["compress"], syn.header)
        lp = {s: _Sink(tmp / paths["lp"][s], p["compress"], syn.header) for s in ("train", "valid", "test")}
        sinks = [graph, *lp.values()]
        try:
            lit_count = 0
            ent_count = 0
            # rdf:type triples: schema, in the graph and the LP training split only
            for kind, count, cls in (("item", self.n, "Item"), ("group", self.g, "Group"), ("tag", self.t, "Tag")):
                for lo in range(0, count, ENTITY_CHUNK):
                    ids = range(lo, min(count, lo + ENTITY_CHUNK))
                    o, c, typ, obj = syn.ex_open, syn.close, syn.rdf_type, syn.ex(cls)
                    lines = [f"{o}{kind}_{i}{c} {typ} {obj} .\n" for i in ids]
                    graph.write(lines)
                    lp["train"].write(lines)
                    ent_count += len(lines)
            # entity-entity relations, routed to the LP split they fell into
            for r, (name, hk, tk, h, t) in enumerate(rels):
                split_r = lp_split[r]
                pred = syn.ex(name)
                o, c = syn.ex_open, syn.close
                for lo in range(0, len(h), ENTITY_CHUNK):
                    hs, ts, ss = h[lo:lo + ENTITY_CHUNK].tolist(), t[lo:lo + ENTITY_CHUNK].tolist(), split_r[lo:lo + ENTITY_CHUNK]
                    lines = [f"{o}{hk}_{a}{c} {pred} {o}{tk}_{b}{c} .\n" for a, b in zip(hs, ts)]
                    graph.write(lines)
                    for code, s in enumerate(("train", "valid", "test")):
                        sel = np.flatnonzero(ss == code).tolist()
                        lp[s].write([lines[j] for j in sel])
                    ent_count += len(lines)
            # literals: all in the graph and in the LP training split
            for lines in self.group_tag_literals():
                graph.write(lines)
                lp["train"].write(lines)
                lit_count += len(lines)
            for lo in range(0, self.n, CHUNK_ITEMS):
                lines = self.item_literals(lo, min(self.n, lo + CHUNK_ITEMS), labels)
                graph.write(lines)
                lp["train"].write(lines)
                lit_count += len(lines)
        finally:
            for s in sinks:
                s.close()

        label_counts = self.write_labels(tmp, paths, labels)
        manifest = self.manifest(paths, graph.lines, ent_count, lit_count, label_counts, {s: lp[s].lines for s in lp}, rels)
        with open(tmp / paths["manifest"], "w", encoding="utf-8", newline="\n") as fh:
            json.dump(manifest, fh, indent=2)
            fh.write("\n")
        return manifest

    # ---------------------------------------------------------------- labels and structure

    def write_labels(self, tmp: Path, paths: dict[str, Any], labels: dict[str, np.ndarray]) -> dict[str, Any]:
        y, split = labels["y"], labels["split"]
        pred = f"<{TARGET_PREDICATE}>"
        counts: dict[str, Any] = {}
        names = ("train", "valid", "test")
        (tmp / "labels").mkdir(parents=True, exist_ok=True)
        for code, s in enumerate(names):
            idx = np.flatnonzero(split == code)
            with open(tmp / paths["labels"][s], "w", encoding="utf-8", newline="\n") as fh:
                fh.write("".join(f"<{EX}item_{i}> {pred} <{EX}class_{c}> .\n" for i, c in zip(idx.tolist(), y[idx].tolist())))
            counts[s] = int(len(idx))
            counts[f"{s}_per_class"] = np.bincount(y[idx], minlength=self.k).tolist()
        with open(tmp / paths["labels_tsv"], "w", encoding="utf-8", newline="\n") as fh:
            fh.write("iri\tclass\tsplit\n")
            fh.write("".join(f"{EX}item_{i}\t{EX}class_{c}\t{names[s]}\n" for i, (c, s) in enumerate(zip(y.tolist(), split.tolist()))))
        return counts

    def manifest(
        self,
        paths: dict[str, Any],
        graph_lines: int,
        ent_count: int,
        lit_count: int,
        label_counts: dict[str, Any],
        lp_counts: dict[str, int],
        rels: list[tuple[str, str, str, np.ndarray, np.ndarray]],
    ) -> dict[str, Any]:
        p = self.p
        by_modality: Counter[str] = Counter()
        ill_by_modality: Counter[str] = Counter()
        for dt, n in self.by_datatype.items():
            by_modality[DATATYPE_MODALITY[dt]] += n
        for dt, n in self.ill.items():
            ill_by_modality[DATATYPE_MODALITY[dt]] += n
        k = self.k
        return {
            "generator": "rdf2mm.synthetic",
            "format_version": 1,
            "parameters": {
                "triples": p["triples"],
                "classes": k,
                "signal": list(p["signal"]),
                "structure_signal": p["structure_signal"],
                "strength": p["strength"],
                "ill_typed": p["ill_typed"],
                "seed": p["seed"],
                "format": p["format"],
                "compress": p["compress"],
                "image_size": p["image_size"],
                "image_format": p["image_format"],
                "max_images": p["max_images"],
                "split": list(p["split"]),
                "lp_split": list(p["lp_split"]),
                "link_strength": p["link_strength"],
                "modalities": list(p["modalities"]),
                "image_style": p["image_style"],
            },
            "seed": p["seed"],
            "namespace": EX,
            "target_class": TARGET_CLASS,
            "target_predicate": TARGET_PREDICATE,
            "classes": [class_iri(c) for c in range(k)],
            "planted": {
                **{m: m in self.signal for m in MODALITIES},
                "structure": p["structure_signal"] > 0,
                # accuracy of the Bayes classifier on one planted literal (boolean: at most 2 classes)
                "literal_accuracy_bound": p["strength"] + (1 - p["strength"]) / k,
            },
            "counts": {
                "triples": graph_lines,
                "entity_triples": ent_count,
                "literal_triples": lit_count,
                "items": self.n,
                "groups": self.g,
                "tags": self.t,
                "clusters": self.c,
                "images": self.n_images,
                "relations": {name: int(len(h)) for name, _, _, h, _ in rels},
                "labels": label_counts,
                "lp": lp_counts,
            },
            "literals": {
                "by_modality": dict(sorted(by_modality.items())),
                "by_datatype": dict(sorted(self.by_datatype.items())),
            },
            "ill_typed": {
                "total": int(sum(self.ill.values())),
                "by_modality": dict(sorted(ill_by_modality.items())),
                "by_datatype": dict(sorted(self.ill.items())),
            },
            # quirks of the modalities written (the others were drawn, not written)
            "quirks": dict(sorted((q, n) for q, n in self.quirks.items()
                                  if ("temporal" if q.startswith("gyear") else "boolean") in self.carried)),
            "predicates": {
                "item_literals": {m: [EX + name for name, _ in preds] for m, preds in _ITEM_LITERALS.items()},
                "relations": [EX + r for r in _RELATIONS],
                "group_literals": [EX + "name", EX + "founded"],
                "tag_literals": [RDFS + "label"],
            },
            "notes": [
                "Label triples are not in the graph; they are in labels/*.nt.",
                f"Only the first {self.n_images} items carry an image (max_images caps image cost).",
                "rdf:type triples and all literal triples are in lp/train only; valid/test hold entity-entity triples.",
                "ex:location POINTs never carry signal; gYears with fewer than four digits are quirks, not ill-typed.",
                "Textual literals are never ill-typed (any string is a valid xsd:string).",
            ],
            "paths": paths,
        }
