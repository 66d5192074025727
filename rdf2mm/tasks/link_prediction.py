"""Link prediction: MR-GCN entity embeddings scored by a triple decoder (DistMult first).

The encoder is the node-classification one (entity embeddings, literal encoders trained
end to end, R-GCN layers); its output for the entity nodes feeds a decoder from
:mod:`rdf2mm.models.decoders`. Training uses binary cross-entropy either on sampled
corruptions (``negatives=k``: head or tail replaced uniformly, as in the MR-GCN paper)
or on every entity at once (``negatives=0``, "1-N" scoring, both directions).

Held-out triples never enter the message-passing graph (see
:mod:`rdf2mm.tasks.lp_splits`); early stopping uses the validation filtered MRR and
really restores the best weights (copied tensors); the test split is ranked once, with
those weights, under the protocol of :mod:`rdf2mm.tasks.evaluation`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch

from rdf2mm.config import TrainConfig
from rdf2mm.errors import DataError, InputError, UsageError, did_you_mean
from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.io.atomic import atomic_dir, write_json
from rdf2mm.runs import (check_weights_fit_config, load_model_state, load_run_config, provenance, save_embeddings,
                         save_model, trained_in_minibatches, write_config, write_curve, write_entities, write_table)
from rdf2mm.tasks.evaluation import TripleRanks, filtered_candidate_counts, random_mrr
from rdf2mm.tasks.lp_candidates import CandidateSet, relation_candidates
from rdf2mm.tasks.lp_splits import LinkSplits, auto_split, splits_from_files
from rdf2mm.tasks.minibatch import whole_graph_outputs
from rdf2mm.tasks.settings import ModelSettings
# The model and its training live in their own modules; re-exported here for callers.
from rdf2mm.models.link_predictor import LinkPredictor
from rdf2mm.tasks.lp_training import (  # noqa: F401 - re-exports
    MINI_BATCH_NEGATIVES,
    ONE_TO_N_CELLS,
    FilterIndex,
    LPResult,
    build_model,
    evaluate_link_predictor,
    rank_with_embeddings,
    train_link_predictor,
)
from rdf2mm.training.events import as_note
from rdf2mm.training.loop import EpochCallback  # noqa: F401 - re-export

if TYPE_CHECKING:
    from rdf2mm.pipeline import RunResult
    from rdf2mm.tasks.inputs import PreparedInputs

Progress = Callable[[str, dict[str, Any]], None]


@dataclass
class LPSettings(ModelSettings):
    """Link prediction: the paper's one-layer encoder without weight decay, plus the decoder,
    sampling and evaluation settings."""

    layers: int = 1
    weight_decay: float = 0.0
    decoder: str = "distmult"
    negatives: int = 0
    batch_size: int = 4096
    eval_every: int = 1
    eval_memory_mb: int = 512


# ------------------------------------------------------------------ data
@dataclass
class LPData:
    """Everything a link-prediction run reads: splits, model inputs, filter index."""

    splits: LinkSplits
    inputs: PreparedInputs
    fingerprint: str | None
    filter_index: FilterIndex


def _sources(cfg: TrainConfig) -> list[str]:
    """GRAPH plus the split files (so every term they name gets an id); no file twice."""
    out: list[str] = []
    seen: set[str] = set()
    for src in [*cfg.graph, cfg.train, cfg.valid, cfg.test]:
        if not src:
            continue
        key = str(Path(src).resolve()) if Path(src).exists() else src
        if key not in seen:
            seen.add(key)
            out.append(src)
    return out


def load_lp_data(cfg: TrainConfig, progress: Progress | None = None) -> LPData:
    """Read the graph and split files, split, and prepare the model inputs."""
    from rdf2mm.graph.ingest import read_graph  # noqa: PLC0415
    from rdf2mm.modalities.registry import ModalityMap  # noqa: PLC0415
    from rdf2mm.tasks.inputs import prepare_inputs  # noqa: PLC0415

    note = progress or (lambda _stage, _info: None)
    if not cfg.graph:
        raise UsageError("no input graph given")
    # Settings left unset (a library caller's config, not resolved) take link prediction's defaults.
    cfg = replace(cfg, task="link-prediction").resolve()
    modality_map = ModalityMap.from_toml(cfg.modality_map) if cfg.modality_map else ModalityMap()
    kg, fingerprint = read_graph(_sources(cfg), format=cfg.format, cache=cfg.cache)
    note("read", {"graph": repr(kg), "triples": kg.num_triples, "entities": kg.num_entities,
                  "relations": kg.num_relations, "literals": kg.num_literals, "cache": kg.stats.get("cache", "miss")})
    if kg.num_triples == 0:
        raise InputError("the input graph is empty")
    if cfg.valid or cfg.test:
        splits = splits_from_files(kg, cfg.train, cfg.valid, cfg.test, cfg.target_relations)
    else:
        splits = auto_split(kg, cfg.lp_split, cfg.seed, cfg.target_relations)
    note("labels", splits.report)
    inputs = prepare_inputs(
        splits.graph, cfg.modalities, cfg.literals, cfg.inverse, cfg.text_encoder, modality_map=modality_map,
    )
    note("literals", {"ill_typed": inputs.prepared.ill_typed_total(), "nodes": inputs.mg.num_nodes,
                      "edges": int(inputs.mg.edge_index.shape[1])})
    return LPData(splits, inputs, fingerprint, FilterIndex.build(splits.known(), kg.num_relations))


def graph_digest(inputs: PreparedInputs) -> str:
    """Hash of the message graph: a saved model only fits the graph it was trained on."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(inputs.mg.edge_index).tobytes())
    h.update(np.ascontiguousarray(inputs.mg.edge_type).tobytes())
    h.update(np.ascontiguousarray(inputs.mg.node_literal).tobytes())
    return h.hexdigest()[:16]


# ------------------------------------------------------------------ pipeline
def train_link_prediction(cfg: TrainConfig, progress: Progress | None = None, resume: bool = False) -> RunResult:
    """Run a link-prediction config end to end (the library behind ``rdf2mm train --task link-prediction``)."""
    from rdf2mm.pipeline import RunResult, input_identity, mean_std, plan_batching, workers_checkpoint  # noqa: PLC0415 - pipeline imports us lazily
    from rdf2mm.tasks.distributed import from_environment, local_device  # noqa: PLC0415
    from rdf2mm.tasks.inputs import resolve_device  # noqa: PLC0415

    cfg.resolve().validate()
    note = progress or (lambda _stage, _info: None)
    started = dt.datetime.now(dt.timezone.utc)
    device = local_device(resolve_device(cfg.device))
    workers = from_environment(device)
    data = load_lp_data(cfg, note)
    settings = LPSettings.from_config(cfg)
    batching, _ = plan_batching(cfg, data.inputs, settings, settings.hidden, workers, device, note)
    seeds = [cfg.seed + i for i in range(cfg.seeds)]
    ckpt = workers_checkpoint(cfg, workers, resume, len(data.splits.train), "training triples",
                              input_identity(cfg, data.fingerprint, data.inputs, len(data.splits.train)))
    results: list[LPResult] = []
    for seed in seeds:
        if ckpt is not None and ckpt.is_done(seed):
            # A finished seed: its best weights are restored and its ranks recomputed
            # (evaluation is deterministic), instead of training it again.
            model = build_model(data.inputs, settings).to(device)
            done = ckpt.load_done(seed, model)
            assert done is not None
            model.load_state_dict(done["model"])
            res = evaluate_link_predictor(model, data.inputs.adjacency(device), data.splits, data.filter_index,
                                          settings, seed, dict(done["metrics"]), done["curve"], device)
            results.append(res)
            note("seed_done", {"seed": seed, "resumed": True, **res.metrics})
            continue
        note("seed", {"seed": seed})
        res = train_link_predictor(
            data.inputs, data.splits, settings, seed, device, data.filter_index,
            on_event=as_note(note), checkpoint=ckpt, batching=batching, workers=workers,
        )
        if ckpt:
            train_only = {k: v for k, v in res.metrics.items() if not k.startswith(("valid_", "test_"))}
            ckpt.save_done(seed, model=res.model, metrics=train_only, curve=res.curve, extra={})
        results.append(res)
        note("seed_done", {"seed": seed, **res.metrics})
    metrics: dict[str, Any] = {"task": cfg.task, "seeds": len(results)}
    keys = [k for k in results[0].metrics if k.startswith(("valid_", "test_"))]
    for k in keys:
        mean, std = mean_std([r.metrics.get(k, float("nan")) for r in results])
        metrics[k] = mean
        metrics[f"{k}_std"] = std
    metrics["test_mrr_random"] = random_baseline_mrr(data.splits.test, data.splits.graph.num_entities, data.filter_index)
    metrics["seconds_per_epoch"] = float(np.mean([r.metrics["seconds_per_epoch"] for r in results]))
    metrics.update(batching.report(), workers=workers.world)
    run_dir = None
    if cfg.out and workers.is_main:
        run_dir = write_run(Path(cfg.out), cfg, data, results, metrics, seeds, str(device), started)
    if ckpt:
        ckpt.remove()
    workers.barrier()
    return RunResult(metrics=metrics, run_dir=run_dir, per_seed=[r.metrics for r in results])


def random_baseline_mrr(triples: np.ndarray, num_entities: int, index: FilterIndex) -> float:
    """Expected filtered MRR of uniformly random scores on ``triples`` (both directions)."""
    if len(triples) == 0:
        return float("nan")
    h, r, t = triples[:, 0], triples[:, 1], triples[:, 2]
    counts = np.concatenate([
        filtered_candidate_counts(h, r, t, num_entities, index.tails),
        filtered_candidate_counts(t, r, h, num_entities, index.heads),
    ])
    return random_mrr(counts)


def _plain(term: str) -> str:
    return term[1:-1] if term.startswith("<") and term.endswith(">") else term


def write_ranks(folder: Path, kg: KnowledgeGraph, ranks: TripleRanks, fmt: str = "tsv") -> Path:
    """Per-triple ranks (filtered and raw, both directions): every figure can be recomputed."""
    tr = ranks.triples
    return write_table(
        folder / "ranks",
        {
            "head": [_plain(kg.entities[i]) for i in tr[:, 0].tolist()],
            "relation": [kg.relations[i] for i in tr[:, 1].tolist()],
            "tail": [_plain(kg.entities[i]) for i in tr[:, 2].tolist()],
            "head_rank": ranks.head.tolist(),
            "tail_rank": ranks.tail.tolist(),
            "head_rank_raw": ranks.head_raw.tolist(),
            "tail_rank_raw": ranks.tail_raw.tolist(),
        },
        fmt,
    )


def write_run(
    folder: Path,
    cfg: TrainConfig,
    data: LPData,
    results: list[LPResult],
    metrics: dict[str, Any],
    seeds: list[int],
    device: str,
    started: dt.datetime,
) -> Path:
    """Write the run directory atomically (see :mod:`rdf2mm.runs`); keeps the best-validation seed."""
    best = max(results, key=lambda r: (r.metrics.get("valid_mrr", 0.0), -r.seed))
    inputs = data.inputs
    with atomic_dir(folder, replace=True) as tmp:
        write_config(tmp, cfg.to_dict())
        write_json(tmp / "provenance.json", provenance(data.fingerprint, seeds, device, started))
        write_json(tmp / "metrics.json", {**metrics, "per_seed": [r.metrics for r in results],
                                          "kept_seed": best.seed, "splits": data.splits.report})
        write_json(tmp / "literals.json", {"datatypes": inputs.prepared.report, "splits": data.splits.report})
        write_curve(tmp, [rec for r in results for rec in r.curve])
        if best.test_ranks is not None:
            write_ranks(tmp, inputs.kg, best.test_ranks, cfg.predictions_format)
        save_model(tmp, best.model, model_meta(cfg, inputs, best))
        write_entities(tmp, inputs.kg)
        if best.embeddings is not None:
            relation = getattr(best.model.decoder, "relation", None)
            save_embeddings(tmp, best.embeddings, relation)
    return folder


def model_meta(cfg: TrainConfig, inputs: PreparedInputs, result: LPResult) -> dict[str, Any]:
    return {
        "format": 1,
        "task": cfg.task,
        "decoder": cfg.decoder,
        "num_entities": inputs.kg.num_entities,
        "num_nodes": inputs.mg.num_nodes,
        "num_relations": inputs.kg.num_relations,
        "message_relations": inputs.mg.num_relations,
        "relation_names": list(inputs.kg.relations),
        "modalities": list(inputs.modalities),
        "parsed_meta": {m: d.parsed.meta for m, d in inputs.prepared.data.items()},
        "graph_digest": graph_digest(inputs),
        "seed": result.seed,
    }


# ------------------------------------------------------------------ predict
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
    model = build_model(data.inputs, LPSettings.from_config(cfg))
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
        {"iri": _plain(kg.entities[i]), "score": float(v), "rank": n + 1, "known": i in seen}
        for n, (v, i) in enumerate(zip(vals.tolist(), idx.tolist()))
    ]
