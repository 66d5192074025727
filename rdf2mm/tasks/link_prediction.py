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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from rdf2mm.config import TrainConfig
from rdf2mm.errors import InputError, UsageError
from rdf2mm.models.registry import KGE_MODELS, PLAIN_KGE_MODELS
from rdf2mm.runs.link_prediction import write_lp_run
from rdf2mm.runs.result import RunResult
from rdf2mm.tasks.evaluation import filtered_candidate_counts, random_mrr
from rdf2mm.tasks.lp_splits import LinkSplits, auto_split, splits_from_files
from rdf2mm.tasks.settings import LPSettings
# The model and its training live in their own modules; re-exported here for callers.
from rdf2mm.models.link_predictor import LinkPredictor  # noqa: F401 - re-export
from rdf2mm.tasks.settings import MINI_BATCH_NEGATIVES, ONE_TO_N_MAX_CELLS  # noqa: F401 - re-exports
from rdf2mm.tasks.lp_training import (  # noqa: F401 - re-exports
    FilterIndex,
    LPResult,
    build_model,
    evaluate_link_predictor,
    rank_with_embeddings,
    train_link_predictor,
)
from rdf2mm.training.events import as_note
from rdf2mm.training.threads import use_training_threads

if TYPE_CHECKING:
    from rdf2mm.tasks.inputs import PreparedInputs

Progress = Callable[[str, dict[str, Any]], None]


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
        shuffle_seed=cfg.seed if cfg.shuffle_literals else None,
        image_encoder=cfg.image_encoder,
    )
    note("literals", {"ill_typed": inputs.prepared.ill_typed_total(), "nodes": inputs.mg.num_nodes,
                      "edges": int(inputs.mg.edge_index.shape[1])})
    return LPData(splits, inputs, fingerprint, FilterIndex.build(splits.known(), kg.num_relations))


# ------------------------------------------------------------------ pipeline
def train_link_prediction(cfg: TrainConfig, progress: Progress | None = None, resume: bool = False) -> RunResult:
    """Run a link-prediction config end to end (the library behind ``rdf2mm train --task link-prediction``)."""
    from rdf2mm.tasks.run_common import input_identity, mean_std, plan_batching, workers_checkpoint  # noqa: PLC0415
    from rdf2mm.tasks.distributed import from_environment, local_device  # noqa: PLC0415
    from rdf2mm.tasks.inputs import resolve_device  # noqa: PLC0415

    cfg.resolve().validate()
    note = progress or (lambda _stage, _info: None)
    started = dt.datetime.now(dt.timezone.utc)
    device = local_device(resolve_device(cfg.device))
    workers = from_environment(device)
    data = load_lp_data(cfg, note)
    use_training_threads(cfg, data.inputs)  # cfg.threads: the count used
    settings = LPSettings.from_config(cfg)
    batching, _ = plan_batching(cfg, data.inputs, settings, settings.hidden, workers, device, note)
    if cfg.model in KGE_MODELS:
        if batching.mini:
            raise UsageError(f"--model {cfg.model} trains in one process: several workers (torchrun) split "
                             "mini-batches of sampled neighbourhoods, which an entity table does not have")
        kind = "plain" if cfg.model in PLAIN_KGE_MODELS else "literal"
        batching = replace(batching, reason=f"a {kind} KGE model trains its entity table in full batches")
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
    metrics.update(batching.report(), workers=workers.world, threads=int(cfg.threads))
    run_dir = None
    if cfg.out and workers.is_main:
        run_dir = write_lp_run(Path(cfg.out), cfg, data.inputs, data.splits.report, data.fingerprint, results,
                               metrics, seeds, str(device), started)
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
