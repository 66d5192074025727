"""Node-classification labels: from label files or from a target predicate in the graph.

Label files are RDF (``<entity> <target> <class>``, the class an IRI or a literal; any
format :mod:`rdf2mm.io.formats` knows, plain or .gz/.bz2/.xz) or TSV/CSV with two columns
(entity, class; a header row is recognised and skipped; compressed alike). Labels naming entities absent from the graph are skipped and
counted. The target predicates are returned so the caller can remove their triples
(and thereby their inverses) from the graph before training: no label leakage.

A target whose classes cannot be learned and scored stops with a :class:`DataError`
(exit code 4): a literal-valued target that makes singleton classes (years, counts,
names), a class with a single member. Splits too small to say much (an empty or tiny
validation or test split) are kept, with a warning in ``Labels.report["warnings"]``.
"""
from __future__ import annotations

import csv
import io
import lzma
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyoxigraph as ox

from rdf2mm.errors import DataError, InputError, did_you_mean
from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.io.formats import TABLE_DELIMITERS, compression_from_path, format_from_path, open_decompressed, table_from_path
from rdf2mm.io.read import read_quads


@dataclass
class LabelSplit:
    nodes: np.ndarray  # int64 entity ids
    classes: np.ndarray  # int64 class indices

    def __len__(self) -> int:
        return int(len(self.nodes))


@dataclass
class Labels:
    """Train/valid/test labels over a graph's entities."""

    class_names: list[str]
    train: LabelSplit
    valid: LabelSplit
    test: LabelSplit
    #: predicate IRIs whose triples hold the labels (removed from the graph)
    target_predicates: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def warnings(self) -> list[str]:
        """Human-readable notes on splits too small to say much (also in ``report``)."""
        return list(self.report.get("warnings", []))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split(self, name: str) -> LabelSplit:
        return {"train": self.train, "valid": self.valid, "test": self.test}[name]


def _term_key(term: str) -> str:
    """Entity key in N-Triples syntax for a plain IRI, ``<iri>`` or ``_:b``."""
    term = term.strip()
    if term.startswith(("<", "_:")):
        return term
    return f"<{term}>"


def read_label_file(path: str | Path) -> tuple[list[tuple[str, str]], set[str]]:
    """(entity term, class term) pairs from a label file, and the predicates it uses.

    RDF label files are read by :func:`rdf2mm.io.read.read_quads` (any RDF format and
    compression it knows, errors with file and line); TSV/CSV tables may be compressed too.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: label file not found")
    table = table_from_path(path)
    if table is not None:
        return _read_label_table(path, TABLE_DELIMITERS[table]), set()
    if format_from_path(path) is None:
        raise InputError(f"{path}: unknown label file type (use an RDF file such as .nt or .ttl, or .tsv or .csv; "
                         "optionally .gz, .bz2 or .xz)")
    pairs: list[tuple[str, str]] = []
    predicates: set[str] = set()
    for q in read_quads(path):
        pairs.append((str(q.subject), str(q.object)))
        predicates.add(q.predicate.value)
    return pairs, predicates


def _read_label_table(path: Path, delim: str) -> list[tuple[str, str]]:
    """(entity, class) pairs of a two-column table; comment rows skipped, a header row recognised."""
    compression = compression_from_path(path)
    try:
        # utf-8-sig: a byte-order mark would otherwise glue itself to the first entity
        with open_decompressed(path, compression) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as fh:
            text = fh.read()
    except (OSError, EOFError, lzma.LZMAError, UnicodeDecodeError) as exc:
        comp = f" ({compression}-compressed)" if compression else ""
        raise InputError(f"{path}: cannot read label file{comp}: {exc}") from None
    pairs: list[tuple[str, str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    first = True
    for row in reader:
        if not row or row[0].startswith("#"):
            continue
        if len(row) < 2:
            raise InputError(f"{path}:{reader.line_num}: expected two columns (entity, class), got {len(row)}")
        ent, cls = row[0].strip(), row[1].strip()
        if first and not ent.startswith(("<", "_:", "http:", "https:", "urn:")) and ":" not in ent:
            first = False
            continue  # header row
        first = False
        pairs.append((_term_key(ent), cls))
    return pairs


def labels_from_files(
    kg: KnowledgeGraph, train: str | Path, valid: str | Path | None, test: str | Path | None
) -> Labels:
    """Labels from given split files (valid/test optional)."""
    raw: dict[str, list[tuple[str, str]]] = {}
    predicates: set[str] = set()
    for name, path in (("train", train), ("valid", valid), ("test", test)):
        if path is None:
            raw[name] = []
            continue
        pairs, preds = read_label_file(path)
        if not pairs:
            raise DataError(f"{path}: label file holds no labels")
        raw[name] = pairs
        predicates |= preds
    return _encode_labels(kg, raw, sorted(predicates))


def labels_from_target(
    kg: KnowledgeGraph, target: str, split: tuple[float, float, float] = (0.6, 0.2, 0.2), seed: int = 0
) -> Labels:
    """Labels from the triples of predicate ``target``, split stratified by class."""
    target = target.strip().strip("<>")
    rid = kg.relation_index().get(target)
    if rid is None:
        raise DataError(f"target predicate <{target}> does not occur in the graph{did_you_mean(kg.closest_relations(target))}")
    pairs: list[tuple[str, str]] = []
    e = kg.edges[kg.edges[:, 1] == rid]
    pairs += [(kg.entities[s], kg.entities[o]) for s, _, o in e.tolist()]
    le = kg.literal_edges[kg.literal_edges[:, 1] == rid]
    for s, _, lit in le.tolist():
        lex, dt, lang = kg.literal_term(lit)
        pairs.append((kg.entities[s], str(ox.Literal(lex, language=lang) if lang else ox.Literal(lex, datatype=ox.NamedNode(dt)))))
    by_entity: dict[str, str] = {}
    multi = 0
    for ent, cls in pairs:
        if ent in by_entity and by_entity[ent] != cls:
            multi += 1
            continue
        by_entity[ent] = cls
    items = sorted(by_entity.items())
    rng = np.random.default_rng(seed)
    fractions = np.asarray(split, dtype=float) / sum(split)
    raw: dict[str, list[tuple[str, str]]] = {"train": [], "valid": [], "test": []}
    by_class: dict[str, list[tuple[str, str]]] = {}
    for ent, cls in items:
        by_class.setdefault(cls, []).append((ent, cls))
    _check_class_sizes(target, by_class, literal_objects=len(le), triples=len(pairs))
    for cls in sorted(by_class):
        members = by_class[cls]
        order = rng.permutation(len(members))
        n_train = int(round(fractions[0] * len(members)))
        n_valid = int(round(fractions[1] * len(members)))
        for k, j in enumerate(order):
            name = "train" if k < n_train else "valid" if k < n_train + n_valid else "test"
            raw[name].append(members[j])
    labels = _encode_labels(kg, raw, [target])
    labels.report["entities_with_several_classes"] = multi
    return labels


#: fewer evaluation nodes than this and a split's accuracy moves in coarse steps: say so
SMALL_SPLIT = 10


def _check_class_sizes(target: str, by_class: dict[str, list[tuple[str, str]]], literal_objects: int,
                       triples: int) -> None:
    """Stop on a target whose classes cannot be both trained on and evaluated."""
    single = sorted(c for c, members in by_class.items() if len(members) == 1)
    if not single:
        return
    k = len(by_class)
    if literal_objects:
        example = next(iter(single))
        raise DataError(
            f"target <{target}> has literal objects ({literal_objects} of {triples} triples, e.g. {example}): "
            f"its values make {k} classes, {len(single)} of them with a single entity; node classification needs "
            f"a predicate whose objects are a few classes each shared by several entities (or label files)"
        )
    shown = ", ".join(single[:3]) + (", ..." if len(single) > 3 else "")
    raise DataError(
        f"{len(single)} of the {k} classes of <{target}> have a single entity ({shown}): a class needs at least "
        f"two, one to train on and one to evaluate; drop or merge those labels (or give label files)"
    )


def _split_warnings(splits: dict[str, LabelSplit], num_classes: int) -> list[str]:
    """Notes on validation/test splits that are empty or too small to say much."""
    sizes = {k: len(v) for k, v in splits.items()}
    where = f"(train {sizes['train']}, valid {sizes['valid']}, test {sizes['test']} labelled entities)"
    notes = []
    for name, role in (("valid", "no early stopping or model selection on validation"), ("test", "no test figures")):
        n = sizes[name]
        if n == 0:
            notes.append(f"the {name} split is empty {where}: {role}")
        elif n < SMALL_SPLIT:
            notes.append(f"the {name} split has only {n} entities {where}: its accuracy moves in steps of {1 / n:.2f}")
        else:
            missing = num_classes - len(set(splits[name].classes.tolist()))
            if missing:
                notes.append(f"{missing} of the {num_classes} classes have no entity in the {name} split {where}")
    return notes


def _encode_labels(kg: KnowledgeGraph, raw: dict[str, list[tuple[str, str]]], predicates: list[str]) -> Labels:
    index = kg.entity_index()
    class_names = sorted({cls for pairs in raw.values() for _, cls in pairs})
    class_index = {c: i for i, c in enumerate(class_names)}
    unknown: Counter = Counter()
    splits: dict[str, LabelSplit] = {}
    seen: dict[int, str] = {}
    duplicates = 0
    for name in ("train", "valid", "test"):
        nodes, classes = [], []
        for ent, cls in raw[name]:
            node = index.get(ent)
            if node is None:
                unknown[name] += 1
                continue
            if node in seen:
                duplicates += 1
                continue
            seen[node] = name
            nodes.append(node)
            classes.append(class_index[cls])
        splits[name] = LabelSplit(np.asarray(nodes, dtype=np.int64), np.asarray(classes, dtype=np.int64))
    if len(splits["train"]) == 0:
        total = sum(len(v) for v in raw.values())
        raise DataError(
            f"no training label names an entity of the graph ({unknown['train']} of {len(raw['train'])} unknown"
            f"{'' if total else '; the label set is empty'})"
        )
    train_classes = set(splits["train"].classes.tolist())
    if len(train_classes) < 2:
        raise DataError(f"the training labels hold only one class ({class_names[train_classes.pop()]}): nothing to learn")
    sizes = Counter(cls for pairs in raw.values() for _, cls in pairs)
    single = sorted(c for c in class_names if sizes[c] == 1)
    warnings = _split_warnings(splits, len(class_names))
    if single:  # label files: the user chose the classes; a target predicate's stop earlier
        warnings.append(f"{len(single)} of the {len(class_names)} classes have a single labelled entity "
                        f"({', '.join(single[:3])}{', ...' if len(single) > 3 else ''})")
    report = {
        "unknown_entities": dict(unknown),
        "duplicate_labels_skipped": duplicates,
        "sizes": {k: len(v) for k, v in splits.items()},
        "classes": len(class_names),
        **({"warnings": warnings} if warnings else {}),
    }
    return Labels(class_names, splits["train"], splits["valid"], splits["test"], list(predicates), report)
