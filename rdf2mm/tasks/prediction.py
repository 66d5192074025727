"""Predicting with a trained run, for both tasks: the library behind ``rdf2mm predict``.

:func:`predict_nodes` labels nodes with a node-classification run; :func:`predict_links`
ranks the entities completing a triple with a link-prediction run. Both rebuild the
run's model around its saved weights (safetensors: loading runs no code), reading the
run directory through :mod:`rdf2mm.runs`.

``predict_nodes`` works on the run's own graph or (MR-GCN) on an updated one. On an updated
graph, entity embeddings are carried over by IRI (entities new to the graph start from
the mean embedding, so they are classified from their literals and neighbours),
datatype vectors by datatype IRI, and the text vocabulary of the run is reused so
characters map to the same indices. Numeric and temporal scaling is refitted on the new
graph's values.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from rdf2mm.errors import DataError, InputError, UsageError, did_you_mean
from rdf2mm.graph.ingest import read_graph
from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.modalities.registry import ModalityMap
from rdf2mm.runs import layout as L
from rdf2mm.runs.link_prediction import graph_digest, plain_iri
from rdf2mm.runs.read import RunFiles, load_run_config, trained_in_minibatches
from rdf2mm.runs.weights import check_weights_fit_config, load_model_state
from rdf2mm.models.registry import KGE_MODELS
from rdf2mm.tasks.inputs import prepare_inputs, resolve_device
from rdf2mm.tasks.kge_classification import check_same_entities, rebuild_two_stage
from rdf2mm.tasks.label_graph import has_types, remove_targets, unlabelled_candidates
from rdf2mm.models.link_predictor import LinkPredictor
from rdf2mm.tasks.link_prediction import LPData, load_lp_data
from rdf2mm.tasks.lp_candidates import CandidateSet, relation_candidates
from rdf2mm.tasks.lp_training import build_model as build_link_predictor
from rdf2mm.tasks.minibatch import whole_graph_outputs
from rdf2mm.tasks.node_classification import build_model as build_classifier
from rdf2mm.tasks.settings import LPSettings, NCSettings


# ------------------------------------------------------------------ node classification
def predict_nodes(
    run_dir: str | Path,
    graph: Sequence[str | Path] | None = None,
    nodes: Sequence[str] | None = None,
    device: str = "auto",
    format: str | None = None,
) -> list[dict[str, Any]]:
    """Class, score and per-class probabilities for ``nodes`` (default: unlabelled candidates)."""
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir)
    if cfg.task != "node-classification":
        raise DataError(f"{run_dir} is a {cfg.task} run; use --head/--relation/--tail for link prediction")
    state, meta = load_model_state(run_dir)
    check_weights_fit_config(cfg, state, run_dir)
    kg, _ = read_graph(list(graph) if graph else cfg.graph, format=format or cfg.format, cache=cfg.cache)
    kg = remove_targets(kg, meta["target_predicates"])
    mmap = ModalityMap.from_toml(cfg.modality_map) if cfg.modality_map else ModalityMap()
    inputs = prepare_inputs(kg, cfg.modalities, cfg.literals, cfg.inverse, cfg.text_encoder, modality_map=mmap,
                            text_vocab=meta.get("parsed_meta", {}).get("textual", {}).get("vocab"),
                            shuffle_seed=cfg.seed if cfg.shuffle_literals else None,
                            image_encoder=cfg.image_encoder)
    entity_table = cfg.model in KGE_MODELS
    if entity_table:  # two stages: the entity table and the classifier on its embeddings
        check_same_entities(kg, run_dir, cfg.model)
        model: torch.nn.Module = rebuild_two_stage(inputs, len(meta["class_names"]), cfg, state, run_dir)
    else:
        model = build_classifier(inputs, len(meta["class_names"]), NCSettings.from_config(cfg))
        _load_weights(model, state, kg, run_dir, meta)
    dev = resolve_device(device)
    model.to(dev).eval()
    if entity_table:
        with torch.no_grad():
            logits = model().float()
    elif trained_in_minibatches(run_dir):
        # A graph that needed mini-batches to train would not fit a full forward pass either.
        logits, _ = whole_graph_outputs(model, inputs.mg, dev)
    else:
        with torch.no_grad():
            logits = model(inputs.adjacency(dev)).float()
    probs = torch.softmax(logits[: kg.num_entities], dim=1).cpu().numpy()
    ids = _select_nodes(kg, nodes, run_dir, meta)
    names = meta["class_names"]
    out = []
    for i in ids:
        p = probs[i]
        k = int(p.argmax())
        out.append({"entity": kg.entities[i], "predicted_class": names[k], "score": float(p[k]),
                    "probabilities": {n: float(x) for n, x in zip(names, p)}})
    return out


def _load_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], kg: KnowledgeGraph,
                  run_dir: Path, meta: dict[str, Any]) -> None:
    state = dict(state)
    old_entities = RunFiles(run_dir).entities()
    if old_entities != kg.entities:
        old = state["features.entity.weight"]
        new = old.mean(0, keepdim=True).repeat(kg.num_entities, 1)
        index = {t: i for i, t in enumerate(old_entities)}
        pairs = [(j, index[t]) for j, t in enumerate(kg.entities) if t in index]
        if pairs:
            dst, src = map(list, zip(*pairs))
            new[dst] = old[src]
        state["features.entity.weight"] = new
    old_dts = meta.get("datatypes")
    if old_dts is not None and old_dts != kg.datatypes and state["features.plain.weight"].shape[0] == len(old_dts):
        old = state["features.plain.weight"]
        new = old.mean(0, keepdim=True).repeat(max(len(kg.datatypes), 1), 1)
        index = {d: i for i, d in enumerate(old_dts)}
        for j, d in enumerate(kg.datatypes):
            if d in index:
                new[j] = old[index[d]]
        state["features.plain.weight"] = new
    check_tensor_names(state, model.state_dict(), run_dir / L.MODEL_WEIGHTS)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise DataError(
            f"{run_dir}: the model does not fit this graph ({str(exc).splitlines()[0]}); "
            "the graph's literals differ too much from the training graph's"
        ) from None


def check_tensor_names(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], where: Path) -> None:
    """A weights file whose tensor names the model does not know is corrupt (a bit flip
    in its header), which is not the same as a graph whose literals differ: there a whole
    modality's encoder is present on one side only."""
    def group(key: str) -> str:
        return ".".join(key.split(".")[:3]) if key.startswith("features.encoders.") else key

    diff = set(state) ^ set(expected)
    whole = {g for g in {group(k) for k in diff}
             if all(k in diff for k in (*state, *expected) if group(k) == g)}
    odd = sorted(k for k in diff if group(k) not in whole or not k.startswith("features.encoders."))
    if odd:
        raise InputError(f"{where}: corrupt or unreadable weights file: unexpected or missing tensors "
                         f"{', '.join(odd[:3])}")


def _select_nodes(kg: KnowledgeGraph, nodes: Sequence[str] | None, run_dir: Path, meta: dict[str, Any]) -> list[int]:
    if nodes:
        ids = []
        for term in nodes:
            i = kg.find_entity(term)
            if i is None:
                raise DataError(f"{term}: no such entity in the graph")
            ids.append(i)
        return ids
    # Default: entities sharing an rdf:type with the run's labelled entities, minus those.
    labelled_terms = set(meta.get("labelled_entities", []))
    labelled = [i for t in labelled_terms if (i := kg.entity_index().get(t)) is not None]
    if not has_types(kg) or not labelled:
        return sorted(set(range(kg.num_entities)) - set(labelled)) if not labelled_terms else []
    return unlabelled_candidates(kg, labelled)


# ------------------------------------------------------------------ link prediction
def load_link_predictor(run_dir: str | Path) -> tuple[LinkPredictor, LPData]:
    """Rebuild a trained model from a run directory (same graph, weights from safetensors)."""
    run_dir = Path(run_dir)
    state, meta = load_model_state(run_dir)
    if meta.get("task") != "link-prediction":
        raise UsageError(f"{run_dir}: not a link-prediction run (task {meta.get('task')!r})")
    cfg = load_run_config(run_dir)
    check_weights_fit_config(cfg, state, run_dir)
    data = load_lp_data(cfg)
    if graph_digest(data.inputs) != meta.get("graph_digest") or data.inputs.kg.num_entities != meta.get("num_entities"):
        raise DataError(f"{run_dir}: the graph read from the saved config differs from the one the model was trained on")
    model = build_link_predictor(data.inputs, LPSettings.from_config(cfg))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(f"{run_dir}: weights do not fit the rebuilt model: {str(exc).splitlines()[0]}") from None
    model.eval()
    return model, data


def query_candidates(model: tuple[LinkPredictor, LPData], relation: str, side: str) -> CandidateSet:
    """The entities that may fill ``side`` ("head" or "tail") of ``relation``: its domain or
    range in the run's training graph (see :mod:`rdf2mm.tasks.lp_candidates`)."""
    kg = model[1].inputs.kg
    name = relation.strip().strip("<>")
    rid = kg.relation_index().get(name)
    if rid is None:
        raise DataError(f"relation <{name}> is not in the graph{did_you_mean(kg.closest_relations(name))}")
    return relation_candidates(model[1].splits.graph, rid, "tail" if side == "tail" else "head")


def predict_links(
    run_dir: str | Path,
    head: str | None = None,
    relation: str | None = None,
    tail: str | None = None,
    top: int = 10,
    exclude_known: bool = False,
    model: tuple[LinkPredictor, LPData] | None = None,
    all_candidates: bool = False,
) -> list[dict[str, Any]]:
    """Top ``top`` entities completing ``(head, relation, ?)`` or ``(?, relation, tail)``.

    Give exactly one of ``head`` and ``tail`` (IRIs, with or without ``<>``). Returns
    dicts ``{iri, score, rank, known}``, best first; ``known`` marks triples already in
    the training graph, and ``exclude_known`` drops them. Only entities of the kind the
    relation points to (tails) or starts from (heads) are ranked, decided from the
    training graph as :func:`query_candidates` says; ``all_candidates`` ranks every
    entity. ``model`` reuses a loaded ``load_link_predictor`` result for repeated queries.
    """
    if (head is None) == (tail is None):
        raise UsageError("give exactly one of --head and --tail")
    if not relation:
        raise UsageError("--relation is required")
    net, data = model if model is not None else load_link_predictor(run_dir)
    kg = data.inputs.kg
    anchor_term = head if head is not None else tail
    anchor = kg.find_entity(anchor_term)  # type: ignore[arg-type]
    if anchor is None:
        raise DataError(f"entity {anchor_term} is not in the graph")
    candidates = query_candidates((net, data), relation, "tail" if head is not None else "head")
    rid = kg.relation_index()[relation.strip().strip("<>")]
    device = next(net.parameters()).device
    if trained_in_minibatches(run_dir):
        # Trained in mini-batches: a full forward pass may not fit; layer-wise is exact.
        emb = whole_graph_outputs(net.encoder, data.inputs.mg, device)[0][: net.num_entities].to(device)
    else:
        with torch.no_grad():
            emb = net(data.inputs.adjacency(device)).float()
    with torch.no_grad():
        a = torch.tensor([anchor], device=device)
        r = torch.tensor([rid], device=device)
        if head is not None:
            scores = net.decoder.score_all_tails(emb[a], r, emb)[0]
        else:
            scores = net.decoder.score_all_heads(emb[a], r, emb)[0]
    scores = scores.float().cpu()
    # "known" = in the graph the model saw (train), not the held-out valid/test triples.
    g = data.splits.graph.edges
    if head is not None:
        seen = set(g[(g[:, 0] == anchor) & (g[:, 1] == rid), 2].tolist())
    else:
        seen = set(g[(g[:, 2] == anchor) & (g[:, 1] == rid), 0].tolist())
    allowed = np.ones(kg.num_entities, dtype=bool)
    if not all_candidates:
        allowed[:] = False
        allowed[candidates.entities] = True
    if exclude_known and seen:
        allowed[sorted(seen)] = False
    scores[torch.as_tensor(~allowed)] = -math.inf
    k = max(0, min(top, int(allowed.sum())))
    vals, idx = torch.topk(scores, k)
    return [
        {"iri": plain_iri(kg.entities[i]), "score": float(v), "rank": n + 1, "known": i in seen}
        for n, (v, i) in enumerate(zip(vals.tolist(), idx.tolist()))
    ]
