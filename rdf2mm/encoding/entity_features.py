"""Entity-level literal features: per entity, modality and predicate, frozen vectors and a mask.

The literal KGE models (LiteralE, IKRL, MoSE, MoMoK, VL-KGE-style fusion) read an
entity's literals as fixed feature vectors instead of passing messages from literal
nodes. :func:`entity_features` builds them once per
:class:`~rdf2mm.tasks.inputs.PreparedInputs`, from the same modality pipeline as
MR-GCN's literal nodes (:func:`rdf2mm.modalities.preprocess.prepare_literals`: the same
datatype -> modality rules, the same parsers, the same ill-typed checks), over every
entity-literal triple of the graph (``kg.literal_edges``), whatever the run's
``--literals`` mode. Frozen features per modality (``D`` columns):

``numeric`` (1)
    the modality's robust per-predicate scaling (:mod:`rdf2mm.modalities.numeric`),
    then standardised per predicate column: mean 0 and standard deviation 1 over that
    predicate's triples (a constant column is only centred).
``temporal`` (28)
    the modality's own bounded and cyclic features (:data:`rdf2mm.modalities.temporal.FEATURES`).
``boolean`` (1)
    +1 / -1, as parsed.
``spatial`` (13)
    the parsed form is a vertex sequence ``[max_points, 18]``, not a fixed-length
    vector: the features are its 11 global channels (size, place, vertex, part and hole
    counts, dimensions, fill; :mod:`rdf2mm.modalities.spatial`), standardised with the
    parse's own mean / std, as the spatial encoder does before its CNN, then the
    centroid's x and y in the geometry's own coordinates, standardised per predicate
    column like numbers. The global channels keep place as ``sign * log1p`` (safe for a
    CNN in any CRS), which squeezes far-apart places together; a model that reads the
    features through one linear map or a small MLP needs place on its own linear scale.
``textual`` (384)
    frozen all-MiniLM-L6-v2 sentence features: the textual modality's ``minilm`` parse
    (offline, cached on disk per string), reused when the run already parsed text that way.
``visual`` (1280)
    frozen pretrained EfficientNet-Lite0 features: the run's parse when it is already
    ``[n, 1280]`` features (``VisualModality(encoder="pretrained")``), else the decoded
    pixels (``VisualModality``'s parse) passed to
    :func:`rdf2mm.modalities.pretrained_images.image_features` (cached on disk by content).

Ragged data: ``values`` holds the mean of an entity's valid literals of a predicate
(three images: their mean; ``item_*`` keeps the three rows), ``mask`` is False where it
has none, and ill-typed literals are skipped and counted by reason in ``report``.
Items are ordered by entity, then predicate column, then triple order.
"""
from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from rdf2mm.encoding.shuffle import group_permutation
from rdf2mm.modalities.base import ParsedLiterals
from rdf2mm.modalities.layouts import GLOBAL_CHANNELS, SEQ_CHANNELS
from rdf2mm.modalities.preprocess import MODALITY_CODES, prepare_literals
from rdf2mm.modalities.registry import MODALITY_NAMES, ModalityMap, get_modality

if TYPE_CHECKING:  # pragma: no cover
    from rdf2mm.tasks.inputs import PreparedInputs

#: width of the frozen MiniLM and EfficientNet-Lite0 features
TEXT_DIM = 384
IMAGE_DIM = 1280
#: the encoder whose parse is a frozen feature vector, for the modalities that have several
FROZEN_ENCODER = {"textual": "minilm", "visual": "pretrained"}
#: where the features are memoised on a PreparedInputs
_MEMO = "_entity_features"


@dataclass
class ModalityFeatures:
    """One modality's frozen features: per entity and predicate (mean, mask) and per literal."""

    modality: str
    #: IRIs of the predicates whose literals fed it, in column order
    predicates: tuple[str, ...]
    #: float32 [E, P, D]: per entity and predicate the mean of its valid literals' features (0 where absent)
    values: torch.Tensor
    #: bool [E, P]: the entity has at least one valid literal of that predicate
    mask: torch.Tensor
    #: float32 [N, D]: every valid literal (entity-literal triple) separately
    item_values: torch.Tensor
    #: int64 [N]: the entity id (KnowledgeGraph entity index) of each item
    item_entity: torch.Tensor
    #: int64 [N]: the predicate column of each item
    item_predicate: torch.Tensor

    @property
    def dim(self) -> int:
        """D, the width of one feature vector."""
        return int(self.values.shape[2])

    def pooled(self) -> tuple[torch.Tensor, torch.Tensor]:
        """[E, D] mean over the entity's present predicates, and [E] bool any-present."""
        m = self.mask.to(self.values.dtype)
        count = m.sum(1)
        total = (self.values * m.unsqueeze(2)).sum(1)
        return total / count.clamp(min=1).unsqueeze(1), count > 0


@dataclass
class EntityFeatures:
    """Per modality the graph has, its :class:`ModalityFeatures`; ``report`` counts what was used."""

    num_entities: int
    #: only modalities the graph has valid literals of, in canonical order
    modalities: dict[str, ModalityFeatures]
    #: {"entities", "modalities": {name: {"predicates", "dim", "entities_with", "entities_without",
    #: "literals", "skipped", "skipped_by_reason"}}, "absent": [...], "shuffle_seed"}
    report: dict[str, Any] = field(default_factory=dict)

    def shuffled(self, seed: int) -> EntityFeatures:
        """The shuffled-literal control: per modality and predicate, the rows of the entities
        that have it are permuted among those entities (distribution kept, link destroyed).

        The mask is unchanged (the same entities have the predicate); the items move with
        their rows. The permutation of one (modality, predicate) depends only on ``seed``,
        the modality and the predicate's relation id (:func:`rdf2mm.encoding.shuffle.group_permutation`).
        """
        out: dict[str, ModalityFeatures] = {}
        for name, mf in self.modalities.items():
            E, P, _ = mf.values.shape
            values = mf.values.clone()
            # new_entity[p][old entity] = the entity that receives its row
            dest = torch.arange(E, dtype=torch.int64).repeat(P, 1)
            for p, iri in enumerate(mf.predicates):
                have = torch.nonzero(mf.mask[:, p], as_tuple=True)[0]
                if len(have) < 2:
                    continue
                perm = torch.as_tensor(group_permutation(seed, MODALITY_NAMES.index(name), _stable_key(iri))
                                       .permutation(len(have)), dtype=torch.int64)
                values[have, p] = mf.values[have[perm], p]
                dest[p, have[perm]] = have
            ent = dest[mf.item_predicate, mf.item_entity]
            order = _item_order(ent, mf.item_predicate)
            out[name] = ModalityFeatures(
                modality=name, predicates=mf.predicates, values=values, mask=mf.mask.clone(),
                item_values=mf.item_values[order], item_entity=ent[order], item_predicate=mf.item_predicate[order],
            )
        report = copy.deepcopy(self.report)
        report["shuffle_seed"] = int(seed)
        return EntityFeatures(num_entities=self.num_entities, modalities=out, report=report)


def _stable_key(iri: str) -> int:
    """A process-independent integer of an IRI (Python's ``hash`` of a str is salted per process)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(iri.encode("utf-8")).digest()[:7], "big")


def _item_order(entity: torch.Tensor, predicate: torch.Tensor) -> torch.Tensor:
    """Stable order by (entity, predicate column)."""
    if len(entity) == 0:
        return torch.zeros(0, dtype=torch.int64)
    key = entity * (int(predicate.max()) + 1) + predicate
    return torch.sort(key, stable=True).indices


# ------------------------------------------------------------------------------ building


def entity_features(inputs: PreparedInputs, *, modalities: tuple[str, ...] | None = None,
                    shuffle_seed: int | None = None, cache_dir: Path | None = None) -> EntityFeatures:
    """Built once per PreparedInputs (memoised on it), from the same modality pipeline
    (rdf2mm/modalities/*) as MR-GCN's literal nodes; the frozen features per modality are
    described in the module docstring (numeric 1 column standardised per predicate,
    temporal 28, boolean 1, spatial 11 global features and the centroid, textual MiniLM 384, visual
    EfficientNet-Lite0 1280).

    ``modalities`` (default: the run's, ``inputs.modalities``) chooses which; those the
    graph has no valid literal of are left out (listed in ``report["absent"]``).
    ``shuffle_seed`` gives the shuffled-literal control (:meth:`EntityFeatures.shuffled`):
    the features are read from the graph's own triples, never from a message graph that
    ``prepare_inputs(shuffle_seed=)`` shuffled, so a run shuffles them here, once.
    ``cache_dir`` is the root of the feature caches (MiniLM under ``cache_dir/minilm``,
    images under ``cache_dir/images``); None: each encoder's default.
    """
    chosen = tuple(m for m in MODALITY_NAMES if m in (inputs.modalities if modalities is None else modalities))
    memo: dict[tuple[Any, ...], EntityFeatures] = inputs.__dict__.setdefault(_MEMO, {})
    key = (chosen, str(cache_dir) if cache_dir is not None else None)
    base = memo.get(key)
    if base is None:
        base = memo[key] = _build(inputs, chosen, cache_dir)
    if shuffle_seed is None:
        return base
    skey = (*key, "shuffled", int(shuffle_seed))
    if skey not in memo:
        memo[skey] = base.shuffled(int(shuffle_seed))
    return memo[skey]


def _build(inputs: PreparedInputs, chosen: tuple[str, ...], cache_dir: Path | None) -> EntityFeatures:
    kg, prepared = inputs.kg, inputs.prepared
    E = kg.num_entities
    edges = np.asarray(kg.literal_edges, dtype=np.int64).reshape(-1, 3)
    edge_mod = prepared.literal_modality[edges[:, 2]].astype(np.int64) if len(edges) else np.zeros(0, np.int64)
    report: dict[str, Any] = {"entities": E, "modalities": {}, "absent": []}
    parsed = _parsed_literals(inputs, chosen, edges, edge_mod, cache_dir)
    out: dict[str, ModalityFeatures] = {}
    for name in chosen:
        rows = edges[edge_mod == MODALITY_CODES.index(name)]
        if len(rows) == 0:
            report["absent"].append(name)
            continue
        ids, data = parsed[name]
        built, entry = _modality(name, rows, ids, data, kg, inputs, cache_dir)
        report["modalities"][name] = entry
        if built is None:
            report["absent"].append(name)
        else:
            out[name] = built
    report["skipped"] = sum(e["skipped"] for e in report["modalities"].values())
    return EntityFeatures(num_entities=E, modalities=out, report=report)


def _parsed_literals(
    inputs: PreparedInputs, chosen: tuple[str, ...], edges: np.ndarray, edge_mod: np.ndarray, cache_dir: Path | None,
) -> dict[str, tuple[np.ndarray, ParsedLiterals]]:
    """Per modality, (literal ids, their parse): the run's own parse where it covers every
    literal the triples name in a form the features can use, else a fresh one."""
    kg, prepared = inputs.kg, inputs.prepared
    found: dict[str, tuple[np.ndarray, ParsedLiterals]] = {}
    again: list[str] = []
    needed: dict[str, np.ndarray] = {}
    for name in chosen:
        ids = np.unique(edges[edge_mod == MODALITY_CODES.index(name), 2])
        if len(ids) == 0:
            continue
        needed[name] = ids
        md = prepared.data.get(name)
        # frozen features only: text as MiniLM, images as EfficientNet-Lite0 (decoded at its
        # own input size), whatever the run's encoders are
        usable = md is not None and (name not in FROZEN_ENCODER or md.parsed.meta.get("encoder") == FROZEN_ENCODER[name])
        if usable:
            row_of = np.full(kg.num_literals, -1, dtype=np.int64)
            row_of[md.literal_ids] = np.arange(len(md.literal_ids))
            usable = bool((row_of[ids] >= 0).all())
        if usable:
            found[name] = (md.literal_ids, md.parsed)
        else:
            again.append(name)
    if again:
        options = {k: dict(v) for k, v in inputs.modality_options.items()}
        for name, encoder in FROZEN_ENCODER.items():
            frozen: dict[str, Any] = {"encoder": encoder}
            if cache_dir is not None:
                frozen["cache_dir"] = str(Path(cache_dir) / ("minilm" if name == "textual" else "images"))
            options[name] = frozen
        fresh = prepare_literals(kg, again, ModalityMap(prepared.datatype_modality), options,
                                 literal_ids=np.concatenate([needed[m] for m in again]))
        for name in again:
            md = fresh.data[name]
            found[name] = (md.literal_ids, md.parsed)
    return found


def _modality(
    name: str, rows: np.ndarray, ids: np.ndarray, parsed: ParsedLiterals, kg: Any, inputs: PreparedInputs,
    cache_dir: Path | None,
) -> tuple[ModalityFeatures | None, dict[str, Any]]:
    """One modality's features from its triples ``rows`` (subject, predicate, literal id)."""
    E = kg.num_entities
    row_of = np.full(kg.num_literals, -1, dtype=np.int64)
    row_of[ids] = np.arange(len(ids))
    lit_row = row_of[rows[:, 2]]
    ok = parsed.valid[lit_row]
    skipped = _skip_reasons(name, rows[~ok, 2], parsed, kg, inputs)
    good = rows[ok]
    entry: dict[str, Any] = {"literals": int(len(good)), "skipped": int((~ok).sum()), "skipped_by_reason": skipped}
    if len(good) == 0:
        entry.update(predicates=0, dim=0, entities_with=0, entities_without=E)
        return None, entry
    feats = _row_features(name, parsed)
    item_values = feats[lit_row[ok]]
    rel_ids = np.unique(good[:, 1])
    col_of = np.full(kg.num_relations, -1, dtype=np.int64)
    col_of[rel_ids] = np.arange(len(rel_ids))
    cols = col_of[good[:, 1]]
    if name == "numeric":
        item_values = _standardise_columns(item_values, cols, len(rel_ids))
    elif name == "spatial":
        item_values = _standardise_columns(item_values, cols, len(rel_ids), first=GLOBAL_CHANNELS)
    ent = torch.as_tensor(good[:, 0])
    col = torch.as_tensor(cols)
    vals = torch.as_tensor(np.ascontiguousarray(item_values, dtype=np.float32))
    order = _item_order(ent, col)
    ent, col, vals = ent[order], col[order], vals[order]
    P, D = len(rel_ids), vals.shape[1]
    flat = ent * P + col
    total = torch.zeros(E * P, D, dtype=torch.float32).index_add_(0, flat, vals)
    count = torch.bincount(flat, minlength=E * P)
    values = (total / count.clamp(min=1).unsqueeze(1).to(torch.float32)).view(E, P, D)
    mask = (count > 0).view(E, P)
    with_it = int(mask.any(1).sum())
    entry.update(predicates=P, dim=int(D), entities_with=with_it, entities_without=E - with_it)
    features = ModalityFeatures(
        modality=name, predicates=tuple(kg.relations[r] for r in rel_ids), values=values, mask=mask,
        item_values=vals, item_entity=ent, item_predicate=col,
    )
    return features, entry


def _row_features(name: str, parsed: ParsedLiterals) -> np.ndarray:
    """float32 [n, D] per parsed row (text and images are frozen features already)."""
    data = parsed.data
    n = len(parsed)
    if name == "spatial":
        g = data[:, 0, SEQ_CHANNELS:].astype(np.float32)
        mean = np.asarray(parsed.meta.get("global_mean", np.zeros(g.shape[1])), dtype=np.float32)
        std = np.asarray(parsed.meta.get("global_std", np.ones(g.shape[1])), dtype=np.float32)
        # the centroid back from its sign * log1p form (channels 8, 9 = global 1, 2)
        centroid = np.sign(g[:, 1:3]) * np.expm1(np.abs(g[:, 1:3]))
        return np.concatenate([(g - mean) / np.where(std > 0, std, 1.0), centroid], axis=1).astype(np.float32)
    return np.asarray(data, dtype=np.float32).reshape(n, -1)


def _standardise_columns(values: np.ndarray, cols: np.ndarray, P: int, first: int = 0) -> np.ndarray:
    """Mean 0, standard deviation 1 per predicate column of the feature columns from
    ``first`` on (a constant column is only centred); the columns before ``first`` are kept."""
    v = values.astype(np.float64)
    count = np.maximum(np.bincount(cols, minlength=P).astype(np.float64), 1)
    for k in range(first, v.shape[1]):
        mean = np.bincount(cols, weights=v[:, k], minlength=P) / count
        var = np.bincount(cols, weights=(v[:, k] - mean[cols]) ** 2, minlength=P) / count
        std = np.sqrt(var)
        std = np.where(std > 1e-8, std, 1.0)
        v[:, k] = (v[:, k] - mean[cols]) / std[cols]
    return v.astype(np.float32)


def _skip_reasons(name: str, bad_ids: np.ndarray, parsed: ParsedLiterals, kg: Any,
                  inputs: PreparedInputs) -> dict[str, int]:
    """Ill-typed triples by reason (per triple, like the literals counts)."""
    if len(bad_ids) == 0:
        return {}
    reasons = [r for r, c in parsed.errors.items() if c]
    if len(reasons) == 1:
        return {reasons[0]: int(len(bad_ids))}
    # Several reasons: each distinct ill-typed literal is checked alone (they are few).
    modality = get_modality(name, **inputs.modality_options.get(name, {}))
    counts: Counter = Counter()
    uniq, times = np.unique(bad_ids, return_counts=True)
    for lid, k in zip(uniq.tolist(), times.tolist()):
        lexical, datatype, language = kg.literal_term(lid)
        if name == "textual" and language:
            from rdf2mm.vocab import RDF_LANGSTRING

            datatype = RDF_LANGSTRING
        why = modality.check([lexical], [datatype]).errors
        counts[next(iter(why), "ill-typed")] += k
    return dict(counts)
