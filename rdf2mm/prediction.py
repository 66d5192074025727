"""Label nodes with a trained node-classification run.

``predict_nodes`` rebuilds the model of a run directory around its saved weights
(safetensors: loading runs no code) on the run's own graph, or on an updated graph.
On an updated graph, entity embeddings are carried over by IRI (entities new to the
graph start from the mean embedding, so they are classified from their literals and
neighbours), datatype vectors by datatype IRI, and the text vocabulary of the run is
reused so characters map to the same indices. Numeric and temporal scaling is refitted
on the new graph's values.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyarrow.parquet as pq
import torch

from rdf2mm.errors import DataError, InputError
from rdf2mm.graph.ingest import read_graph
from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.modalities.registry import ModalityMap
from rdf2mm.pipeline import RDF_TYPE, remove_targets
from rdf2mm.runs import check_weights_fit_config, load_model_state, load_run_config, trained_in_minibatches
from rdf2mm.tasks.inputs import prepare_inputs, resolve_device
from rdf2mm.tasks.minibatch import whole_graph_outputs
from rdf2mm.tasks.node_classification import NCSettings, build_model


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
                            text_vocab=meta.get("parsed_meta", {}).get("textual", {}).get("vocab"))
    model = build_model(inputs, len(meta["class_names"]), NCSettings.from_config(cfg))
    _load_weights(model, state, kg, run_dir, meta)
    dev = resolve_device(device)
    model.to(dev).eval()
    if trained_in_minibatches(run_dir):
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
    old_entities = pq.read_table(run_dir / "entities.parquet").column("term").to_pylist()
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
    check_tensor_names(state, model.state_dict(), run_dir / "model.safetensors")
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
    tid = kg.relation_index().get(RDF_TYPE)
    if tid is None or not labelled:
        return sorted(set(range(kg.num_entities)) - set(labelled)) if not labelled_terms else []
    typed = kg.edges[kg.edges[:, 1] == tid]
    classes = np.unique(typed[np.isin(typed[:, 0], labelled), 2])
    cand = np.unique(typed[np.isin(typed[:, 2], classes), 0])
    lab = set(labelled)
    return [int(c) for c in cand if int(c) not in lab]
