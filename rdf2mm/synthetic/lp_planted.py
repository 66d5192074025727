"""Link-prediction graphs whose target tails are planted in one literal modality.

:func:`generate_planted_lp` writes a graph in which a model that reads the planted
modality can predict the held-out links of the target relation and a model that reads
only the structure cannot (``rdf2mm generate DIR --task link-prediction --plant M``).

Design
------
Every item ``i`` has a hidden *latent* ``a_i`` in ``0..K-1`` (balanced). The target
relation ``ex:hasCategory`` links each item to exactly one of ``K`` hub entities,
``ex:category_{a_i}``: its tail is a function of the latent. Each item carries one
literal per written modality (``--modalities``, default all four):

==========  ================================================================
numeric     ``ex:measure`` xsd:decimal ``10 z + 5 + N(0, 1)``
textual     ``ex:description`` xsd:string: three distinct words of topic ``z``
            (sport, cooking, music, astronomy, medicine, finance, gardening,
            computing: real English words, so frozen sentence features such as
            MiniLM separate the topics) shuffled among 3-5 neutral words
visual      ``ex:image`` kgb:base64Image: one filled shape of kind ``SHAPES[z]``
            (disk, square, triangle, cross, ring, diamond), colour, size, place
            and background drawn independently of ``z``
            (:func:`~rdf2mm.synthetic.literals.shape_images`)
spatial     ``ex:location`` geo:wktLiteral ``POINT (lon lat)``: ``lon`` in the
            ``z``-th of ``K`` longitude bands (a margin of 15% of the band on
            each side), ``lat`` uniform in ``[-60, 60]``
==========  ================================================================

``z`` is the item's latent for the planted modality and an independent balanced draw
for every other modality (same marginal, no information). ``--plant none`` plants no
modality: the same structure, every literal independent of the latent (the control
graph). ``--missing R``: in every modality, exactly ``round(R * items)`` items (drawn
independently of the latent and of the other modalities) carry no literal of it.

The rest of the graph is the generator's usual link structure
(:meth:`~rdf2mm.synthetic.structure.StructureMixin.make_structure`): items in groups,
tags, a related item, groups under groups, all driven by a *structural cluster* per
item drawn independently of the latent (``--link-strength``: how strongly), so a plain
KGE model has real regularities to learn on those relations.

Why the structure cannot predict a held-out tail: (1) the structural cluster, the
groups, tags and related items are drawn from random streams that never see the
latent, so an item's neighbourhood is independent of its latent; (2) ``hasCategory``
is functional, so an item whose triple is held out (valid or test) has no
``hasCategory`` triple in training: nothing in the training graph ties that item to a
hub except its literals; (3) which items miss a literal and which triples are held out
are also independent of the latent. The best a structure-only model can do on a test
triple is the hubs' marginal (uniform): tail MRR about ``H_K / K`` and head MRR near
``1 / items``. A model that reads the planted literal can rank the right hub first
for every item that has it, and (filtered) the right item among the heads of a hub.

Files (like :func:`~rdf2mm.synthetic.generate`'s): ``graph.nt`` (everything),
``lp/train.nt`` (types, literals, training structure and training ``hasCategory``
triples), ``lp/valid.nt`` and ``lp/test.nt`` (held-out ``hasCategory`` triples only,
so a run's test MRR is the planted relation's), ``lp/valid-structure.nt`` and
``lp/test-structure.nt`` (the other relations' held-out triples: shows what plain KGE
learns from the structure), ``latent.tsv`` (item, latent, split, literals present),
``manifest.json`` and ``README.md``. Deterministic given the parameters.
"""
from __future__ import annotations

import json
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from rdf2mm.errors import UsageError
from rdf2mm.synthetic.generator import GeneratedDataset, write_dataset
from rdf2mm.synthetic.literals import LiteralMixin, shape_images
from rdf2mm.synthetic.output import _Sink, _Syntax
from rdf2mm.synthetic.params import (
    _S_LABELS,
    ENTITY_CHUNK,
    EX,
    IMAGE_BATCH,
    MAX_CLASSES,
    SHAPES,
    _sizes,
    _validate,
)
from rdf2mm.synthetic.structure import StructureMixin
from rdf2mm.vocab import GEO, KGB, XSD

#: the modalities a tail can be planted in, in their canonical order
PLANTABLE: tuple[str, ...] = ("numeric", "textual", "visual", "spatial")
#: the target relation and its tails
PLANTED_PREDICATE = EX + "hasCategory"
HUB_CLASS = EX + "Category"
#: modality -> (predicate local name, datatype IRI)
PLANTED_LITERALS: dict[str, tuple[str, str]] = {
    "numeric": ("measure", XSD + "decimal"),
    "textual": ("description", XSD + "string"),
    "visual": ("image", KGB + "base64Image"),
    "spatial": ("location", GEO + "wktLiteral"),
}
#: topics of the textual modality: real words, so pretrained sentence features separate them
TOPICS: dict[str, tuple[str, ...]] = {
    "sport": ("football", "goalkeeper", "stadium", "referee", "tournament", "striker", "league", "penalty",
              "coach", "athlete", "trophy", "marathon"),
    "cooking": ("recipe", "oven", "flour", "garlic", "simmer", "kitchen", "butter", "saucepan", "onion",
                "bake", "spices", "dough"),
    "music": ("guitar", "melody", "concert", "drummer", "orchestra", "violin", "chorus", "album", "rhythm",
              "piano", "singer", "symphony"),
    "astronomy": ("galaxy", "telescope", "planet", "orbit", "comet", "astronaut", "nebula", "asteroid",
                  "rocket", "stars", "lunar", "cosmos"),
    "medicine": ("hospital", "surgeon", "vaccine", "patient", "diagnosis", "nurse", "therapy", "infection",
                 "clinic", "medicine", "symptom", "prescription"),
    "finance": ("bank", "mortgage", "investor", "stock", "dividend", "loan", "inflation", "budget",
                "currency", "interest", "portfolio", "taxes"),
    "gardening": ("tulip", "garden", "seedling", "compost", "orchard", "blossom", "hedge", "fern", "shovel",
                  "soil", "greenhouse", "roses"),
    "computing": ("software", "keyboard", "database", "compiler", "laptop", "server", "algorithm", "pixel",
                  "network", "browser", "code", "processor"),
}
_FILLER = ("the", "a", "about", "with", "new", "old", "small", "large", "report", "item", "note", "today",
           "some", "many", "and", "from", "this", "that", "record", "entry", "general", "short", "long",
           "other", "various", "several", "details", "page", "list", "file")
_TOPIC_WORDS = list(TOPICS.values())
#: per-modality cap on the latent values (shapes drawn; topics written)
_MAX_K = {"visual": len(SHAPES), "textual": len(TOPICS), "numeric": MAX_CLASSES, "spatial": MAX_CLASSES}
# random streams of their own (the generator's 1-5 are shared with the structure code)
_S_LATENT_SPLIT, _S_MISSING, _S_VALUES = 11, 12, 13


def parse_plant(plant: str | None) -> str | None:
    """``numeric``, ``textual``, ``visual``, ``spatial``, or None for ``none``."""
    text = (plant or "none").strip().lower()
    if text == "none":
        return None
    if text not in PLANTABLE:
        raise UsageError(f"plant must be one of {', '.join(PLANTABLE)} or none, got {plant!r}")
    return text


def parse_planted_modalities(modalities: str | Iterable[str] | None) -> tuple[str, ...]:
    """The plantable modalities to write: ``all`` or a list such as ``numeric,visual``."""
    if modalities is None:
        return PLANTABLE
    names = [s.strip().lower() for s in (modalities.split(",") if isinstance(modalities, str) else modalities)]
    names = [n for n in names if n]
    if names in (["all"], []):
        return PLANTABLE
    if names == ["none"]:
        return ()
    unknown = [n for n in names if n not in PLANTABLE]
    if unknown:
        raise UsageError(f"a planted link-prediction graph writes {', '.join(PLANTABLE)} literals; "
                         f"unknown or unsupported modality {', '.join(unknown)}")
    return tuple(m for m in PLANTABLE if m in names)


def generate_planted_lp(
    out_dir: str | Path,
    *,
    entities: int = 2000,
    classes: int = 6,
    plant: str | None = "numeric",
    missing: float = 0.2,
    seed: int = 0,
    format: str = "nt",
    compress: bool = False,
    image_size: int = 16,
    image_format: str = "png",
    lp_split: Sequence[float] = (0.8, 0.1, 0.1),
    link_strength: float = 0.8,
    modalities: str | Iterable[str] | None = PLANTABLE,
) -> GeneratedDataset:
    """Write a link-prediction graph whose ``ex:hasCategory`` tails are planted in ``plant``.

    ``entities`` items (plus groups, tags and ``classes`` hubs), ``classes`` latent
    values (= hubs), ``missing`` the share of items without a literal of each modality,
    ``modalities`` the literal modalities written (the planted one must be among them).
    See the module docstring for the design; files appear in ``out_dir`` only once all
    are complete.
    """
    started = time.perf_counter()
    planted = parse_plant(plant)
    mods = parse_planted_modalities(modalities)
    if planted is not None and planted not in mods:
        raise UsageError(f"plant {planted} is not among the modalities written ({', '.join(mods) or 'none'})")
    try:
        miss = float(missing)
    except (TypeError, ValueError):
        raise UsageError(f"missing must be a number, got {missing!r}") from None
    if not 0.0 <= miss < 1.0 or math.isnan(miss):
        raise UsageError(f"missing must be in [0, 1), got {missing!r}")
    # the generator's own validation for everything shared with it
    p = _validate(triples=10**9, classes=classes, signal=None, structure_signal=0.0, strength=1.0, ill_typed=0.0,
                  seed=seed, format=format, compress=compress, image_size=image_size, image_format=image_format,
                  max_images=0, split=(0.6, 0.2, 0.2), lp_split=lp_split, link_strength=link_strength,
                  modalities="none", image_style="blob")
    if isinstance(entities, bool) or not isinstance(entities, (int, np.integer)) or entities < 10 * p["classes"]:
        raise UsageError(f"entities must be an integer of at least 10 per class ({10 * p['classes']}), got {entities!r}")
    if p["lp_split"][1] <= 0 or p["lp_split"][2] <= 0:
        raise UsageError("lp_split must hold out a share for valid and for test")
    for m in mods:
        if p["classes"] > _MAX_K[m]:
            raise UsageError(f"the {m} modality carries at most {_MAX_K[m]} latent values "
                             f"({'shapes' if m == 'visual' else 'topics'}); got classes={p['classes']} "
                             f"(lower --classes or leave {m} out of --modalities)")
    p.update(entities=int(entities), plant=planted, missing=miss, planted_modalities=mods)
    return write_dataset(out_dir, _PlantedLP(p).run, started)


class _PlantedLP(StructureMixin, LiteralMixin):
    def __init__(self, p: dict[str, Any]):
        self.p = p
        self.k = p["classes"]
        self.n = p["entities"]
        self.c, self.m, self.g, self.t = _sizes(self.n, self.k)
        self.syn = _Syntax(p["format"])
        self.ext = (".nt" if p["format"] == "nt" else ".ttl") + (".gz" if p["compress"] else "")
        self.by_modality: Counter[str] = Counter()

    # ---------------------------------------------------------------- the latent and its split

    def latent_and_split(self) -> tuple[np.ndarray, np.ndarray]:
        """Balanced latent per item and the split (0/1/2) of its ``hasCategory`` triple;
        every hub keeps at least one training triple."""
        a = self.rng(_S_LABELS).permutation(np.arange(self.n) % self.k)
        rng = self.rng(_S_LATENT_SPLIT)
        order = rng.permutation(self.n)
        nv, nt = (max(1, round(self.n * f)) for f in self.p["lp_split"][1:])
        split = np.zeros(self.n, dtype=np.int8)
        split[order[:nv]] = 1
        split[order[nv:nv + nt]] = 2
        for hub in range(self.k):
            mine = np.flatnonzero(a == hub)
            if not (split[mine] == 0).any():
                split[mine[0]] = 0
        return a, split

    def presence(self, modality: str) -> np.ndarray:
        """Which items carry a literal of ``modality``: all but exactly ``round(missing * n)``."""
        rng = self.rng(_S_MISSING, PLANTABLE.index(modality))
        has = np.ones(self.n, dtype=bool)
        has[rng.permutation(self.n)[:round(self.p["missing"] * self.n)]] = False
        return has

    def values(self, modality: str, a: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """The value each item's literal follows (its latent if planted, else a balanced
        independent draw) and the lexical forms, for every item (absent ones dropped later)."""
        rng = self.rng(_S_VALUES, PLANTABLE.index(modality))
        free = rng.permutation(np.arange(self.n) % self.k)
        z = a if modality == self.p["plant"] else free
        n = self.n
        if modality == "numeric":
            return z, ["%.3f" % v for v in (10.0 * z + 5.0 + rng.normal(0.0, 1.0, n)).tolist()]
        if modality == "textual":
            n_topic, n_fill = 3, rng.integers(3, 6, n)
            topic = np.argsort(rng.random((n, len(_TOPIC_WORDS[0]))), axis=1)[:, :n_topic]
            fill = rng.integers(0, len(_FILLER), (n, 5))
            keys = rng.random((n, n_topic + 5))
            texts = []
            for i in range(n):
                words = [_TOPIC_WORDS[z[i]][w] for w in topic[i]] + [_FILLER[f] for f in fill[i, :n_fill[i]]]
                order = np.argsort(keys[i, :len(words)])
                texts.append(" ".join(words[j] for j in order))
            return z, texts
        if modality == "visual":
            lex: list[str] = []
            for b in range(0, n, IMAGE_BATCH):
                lex += self.encode_images(shape_images(rng, z[b:b + IMAGE_BATCH], self.p["image_size"]))
            return z, lex
        width = 360.0 / self.k
        lon = -180.0 + width * (z + 0.15 + 0.7 * rng.random(n))
        lat = rng.uniform(-60.0, 60.0, n)
        return z, ["POINT (%.5f %.5f)" % (x, y) for x, y in zip(lon.tolist(), lat.tolist())]

    # ---------------------------------------------------------------- writing

    def run(self, tmp: Path) -> dict[str, Any]:
        syn, o, c = self.syn, self.syn.ex_open, self.syn.close
        a, a_split = self.latent_and_split()
        rels = self.make_structure({"y": a})  # structure_signal 0: groups never see the latent
        rel_split = self.split_links(rels)
        names = ("train", "valid", "test")
        paths = {"graph": "graph" + self.ext,
                 "lp": {s: f"lp/{s}{self.ext}" for s in names},
                 "lp_structure": {s: f"lp/{s}-structure{self.ext}" for s in ("valid", "test")},
                 "latent": "latent.tsv", "manifest": "manifest.json", "readme": "README.md"}
        hdr, gz = syn.header, self.p["compress"]
        graph = _Sink(tmp / paths["graph"], gz, hdr)
        lp = {s: _Sink(tmp / paths["lp"][s], gz, hdr) for s in names}
        held = {1: _Sink(tmp / paths["lp_structure"]["valid"], gz, hdr),
                2: _Sink(tmp / paths["lp_structure"]["test"], gz, hdr)}
        counts: Counter[str] = Counter()
        present: dict[str, np.ndarray] = {}
        try:
            def everywhere(lines: list[str], what: str) -> None:
                graph.write(lines)
                lp["train"].write(lines)
                counts[what] += len(lines)

            typ = syn.rdf_type
            for kind, count, cls in (("item", self.n, "Item"), ("group", self.g, "Group"), ("tag", self.t, "Tag"),
                                     ("category", self.k, HUB_CLASS[len(EX):])):
                for lo in range(0, count, ENTITY_CHUNK):
                    ids = range(lo, min(count, lo + ENTITY_CHUNK))
                    everywhere([f"{o}{kind}_{i}{c} {typ} {syn.ex(cls)} .\n" for i in ids], "type_triples")
            for (name, hk, tk, h, t), split_r in zip(rels, rel_split):
                pred = syn.ex(name)
                lines = [f"{o}{hk}_{x}{c} {pred} {o}{tk}_{y}{c} .\n" for x, y in zip(h.tolist(), t.tolist())]
                graph.write(lines)
                lp["train"].write([ln for ln, s in zip(lines, split_r.tolist()) if s == 0])
                for code in (1, 2):
                    held[code].write([ln for ln, s in zip(lines, split_r.tolist()) if s == code])
                counts["structure_triples"] += len(lines)
            pred = syn.ex("hasCategory")
            lines = [f"{o}item_{i}{c} {pred} {o}category_{z}{c} .\n" for i, z in enumerate(a.tolist())]
            graph.write(lines)
            for code, s in enumerate(names):
                lp[s].write([ln for ln, sp in zip(lines, a_split.tolist()) if sp == code])
            counts["planted_triples"] += len(lines)
            for m in self.p["planted_modalities"]:
                has = present[m] = self.presence(m)
                _, lex = self.values(m, a)
                local, dt = PLANTED_LITERALS[m]
                pr, d = syn.ex(local), syn.datatype(dt)
                for lo in range(0, self.n, ENTITY_CHUNK):
                    ids = np.flatnonzero(has[lo:lo + ENTITY_CHUNK]) + lo
                    everywhere([f'{o}item_{i}{c} {pr} "{lex[i]}"{d} .\n' for i in ids.tolist()], "literal_triples")
                self.by_modality[m] = int(has.sum())
        finally:
            for sink in (graph, *lp.values(), *held.values()):
                sink.close()

        self.write_latent(tmp / paths["latent"], a, a_split, present)
        manifest = self.manifest(paths, graph.lines, counts, {s: lp[s].lines for s in names},
                                 {names[k]: v.lines for k, v in held.items()}, rels, a_split)
        with open(tmp / paths["manifest"], "w", encoding="utf-8", newline="\n") as fh:
            json.dump(manifest, fh, indent=2)
            fh.write("\n")
        (tmp / paths["readme"]).write_text(readme(manifest), encoding="utf-8", newline="\n")
        return manifest

    def write_latent(self, path: Path, a: np.ndarray, split: np.ndarray, present: dict[str, np.ndarray]) -> None:
        mods = list(present)
        names = ("train", "valid", "test")
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write("\t".join(["iri", "latent", "tail", "split", *(f"has_{m}" for m in mods)]) + "\n")
            for i in range(self.n):
                flags = [str(int(present[m][i])) for m in mods]
                fh.write("\t".join([f"{EX}item_{i}", str(a[i]), f"{EX}category_{a[i]}", names[split[i]], *flags]) + "\n")

    def manifest(self, paths: dict[str, Any], graph_lines: int, counts: Counter[str], lp_counts: dict[str, int],
                 held_counts: dict[str, int], rels: list[Any], a_split: np.ndarray) -> dict[str, Any]:
        p, k = self.p, self.k
        harmonic = sum(1.0 / r for r in range(1, k + 1))
        train, valid, test = (f"{{out}}/{paths['lp'][s]}" for s in ("train", "valid", "test"))
        return {
            "generator": "rdf2mm.synthetic.lp_planted",
            "format_version": 1,
            "task": "link-prediction",
            "parameters": {
                "entities": p["entities"], "classes": k, "plant": p["plant"] or "none", "missing": p["missing"],
                "seed": p["seed"], "format": p["format"], "compress": p["compress"],
                "image_size": p["image_size"], "image_format": p["image_format"],
                "lp_split": list(p["lp_split"]), "link_strength": p["link_strength"],
                "modalities": list(p["planted_modalities"]),
            },
            "seed": p["seed"],
            "namespace": EX,
            "planted_relation": PLANTED_PREDICATE,
            "hub_class": HUB_CLASS,
            "tails": [f"{EX}category_{z}" for z in range(k)],
            "literal_predicates": {m: EX + PLANTED_LITERALS[m][0] for m in p["planted_modalities"]},
            "planted": {m: m == p["plant"] for m in PLANTABLE},
            "chance": {
                # a model that knows only the hubs' (uniform) marginal: tail rank uniform over K hubs
                "tail_mrr": harmonic / k,
                "note": "head MRR of a structure-only model is near 1/items; the run's MRR averages both sides",
            },
            "counts": {
                "triples": graph_lines,
                "items": self.n, "groups": self.g, "tags": self.t, "hubs": k, "clusters": self.c,
                **{name: int(v) for name, v in sorted(counts.items())},
                "relations": {**{name: int(len(h)) for name, _, _, h, _ in rels}, "hasCategory": self.n},
                "literals": dict(self.by_modality),
                "planted_split": {s: int((a_split == code).sum()) for code, s in enumerate(("train", "valid", "test"))},
                "lp": lp_counts,
                "lp_structure": held_counts,
            },
            "commands": {
                "plain_kge": f"rdf2mm train {train} --task link-prediction --train {train} --valid {valid} "
                             f"--test {test} --model distmult",
                "mrgcn": f"rdf2mm train {train} --task link-prediction --train {train} --valid {valid} "
                         f"--test {test} --model mrgcn",
            },
            "notes": [
                "lp/valid and lp/test hold only hasCategory triples: a run's test MRR is the planted relation's.",
                "lp/*-structure hold the other relations' held-out triples (not in lp/train).",
                "Types and literals are in lp/train only; graph holds every triple, held-out ones included: "
                "give lp/train as the GRAPH of a run.",
            ],
            "paths": paths,
        }


def readme(manifest: dict[str, Any]) -> str:
    """The README.md written beside the files: what they are and how to train on them."""
    p, c = manifest["parameters"], manifest["counts"]
    lines = [
        "# Planted link-prediction graph (rdf2mm generate --task link-prediction)",
        "",
        f"Target relation `{manifest['planted_relation']}`: every item has one, to one of {p['classes']} hubs "
        f"(`ex:category_0..{p['classes'] - 1}`), the hub of its hidden latent value.",
        f"Planted in: **{p['plant']}** ({'no literal carries the latent: a control graph' if p['plant'] == 'none' else 'the literal of that modality encodes the latent'}); "
        f"{p['missing']:.0%} of the items lack each modality's literal. Seed {p['seed']}.",
        "",
        f"Items {c['items']:,}, groups {c['groups']:,}, tags {c['tags']:,}; triples {c['triples']:,}. "
        f"hasCategory split train/valid/test: {c['planted_split']['train']} / {c['planted_split']['valid']} / "
        f"{c['planted_split']['test']}.",
        "",
        "| file | holds |",
        "|---|---|",
        "| lp/train | types, literals, training structure and training hasCategory triples (the GRAPH of a run) |",
        "| lp/valid, lp/test | held-out hasCategory triples only |",
        "| lp/valid-structure, lp/test-structure | held-out triples of the other relations |",
        "| graph | every triple, held-out ones included |",
        "| latent.tsv | per item: latent, its hub, the split of its hasCategory triple, which literals it has |",
        "",
        "The structure (groups, tags, related items) is drawn independently of the latent, so a structure-only "
        f"model is at chance on the test triples (tail MRR about {manifest['chance']['tail_mrr']:.3f}, head MRR "
        "near 0); a model that reads the planted literal can do much better.",
        "",
        "Train (replace {out} by this folder):",
        "",
        "    " + manifest["commands"]["plain_kge"],
        "    " + manifest["commands"]["mrgcn"],
        "",
    ]
    return "\n".join(lines)
