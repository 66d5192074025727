"""The training pipeline end to end: read, build, encode, train, evaluate, write.

This is the library behind ``rdf2mm train``: :func:`train` takes a
:class:`~rdf2mm.config.TrainConfig` and returns the metrics, writing a run directory
when ``cfg.out`` is set. The CLI only parses options and prints.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from rdf2mm.checkpoint import TrainingCheckpoint, checkpoint_folder
from rdf2mm.config import TrainConfig
from rdf2mm.errors import DivergedError, InputError, UsageError
from rdf2mm.graph.ingest import read_graph
from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.io.atomic import atomic_dir, write_json
from rdf2mm.io.targets import check_folder_target, is_checkpoint_dir, is_run_dir
from rdf2mm.modalities.registry import ModalityMap
from rdf2mm.runs import (provenance, save_embeddings, save_model, write_config, write_curve, write_entities,
                         write_table)
from rdf2mm.tasks.distributed import Workers, from_environment, local_device
from rdf2mm.tasks.inputs import PreparedInputs, deterministic_mode, prepare_inputs, resolve_device
from rdf2mm.tasks.memory import available_memory, check_fits, estimate_minibatch_memory, estimate_training_memory
from rdf2mm.tasks.minibatch import Batching, choose_batching
from rdf2mm.tasks.model_selection import select_on_validation
from rdf2mm.tasks.labels import Labels, labels_from_files, labels_from_target
from rdf2mm.tasks.node_classification import NCResult, NCSettings, build_model, kept_rank, train_node_classifier
from rdf2mm.training.events import as_note

Progress = Callable[[str, dict[str, Any]], None]


@dataclass
class RunResult:
    """What ``train`` returns: final metrics, and where the run was written."""

    metrics: dict[str, Any]
    run_dir: Path | None = None
    per_seed: list[dict[str, Any]] = field(default_factory=list)
    #: what ``export_run`` reported, when the run was exported (``--output`` / ``--store``)
    export: dict[str, Any] | None = None


def load_labels(kg: KnowledgeGraph, cfg: TrainConfig) -> Labels:
    if cfg.train:
        if cfg.target:
            raise UsageError("give either --target or --train/--valid/--test label files, not both")
        return labels_from_files(kg, cfg.train, cfg.valid, cfg.test)
    if cfg.target:
        return labels_from_target(kg, cfg.target, cfg.split, seed=cfg.seed)
    raise UsageError("node classification needs labels: --target PREDICATE or --train/--valid/--test files")


def remove_targets(kg: KnowledgeGraph, predicates: list[str]) -> KnowledgeGraph:
    """Drop the label predicates' triples (their inverses go with them): no leakage."""
    index = kg.relation_index()
    ids = {index[p] for p in predicates if p in index}
    return kg.without_relations(ids) if ids else kg


def mean_std(values: list[float]) -> tuple[float, float]:
    arr = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if len(arr) == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def input_identity(cfg: TrainConfig, fingerprint: str | None, inputs: PreparedInputs, num_train: int) -> dict[str, Any]:
    """What a checkpoint records of the run's inputs, so that a resume on a changed graph
    or changed label files is refused: the graph's fingerprint (None for stdin or an
    endpoint, whose shapes are then all that is compared), the label files' digests and
    the graph's shapes."""
    digests = {}
    for name in ("train", "valid", "test"):
        path = getattr(cfg, name)
        if path and Path(path).is_file():
            digests[name] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return {"data_fingerprint": fingerprint, "label_files": digests, "num_nodes": int(inputs.mg.num_nodes),
            "num_relations": int(inputs.mg.num_relations), "num_train": int(num_train)}


def run_checkpoint(cfg: TrainConfig, resume: bool, identity: dict[str, Any]) -> TrainingCheckpoint | None:
    """The run's checkpoint folder: reused when resuming (on the same inputs only),
    otherwise started afresh."""
    if not cfg.out or cfg.checkpoint_every <= 0:
        return None
    ckpt = TrainingCheckpoint(checkpoint_folder(cfg.out), cfg.checkpoint_every)
    if resume:
        saved, now = ckpt.load_config(), cfg.to_dict()
        # Where the run is written is not a setting of the run: a moved run resumes in place.
        changed = sorted(k for k in set(saved) | set(now) if k != "out" and saved.get(k) != now.get(k))
        if changed:
            raise UsageError(f"cannot resume: settings differ from the interrupted run ({', '.join(changed)})")
        ckpt.check_inputs(identity)
    else:
        ckpt.remove()  # a fresh run never picks up another run's leftovers
        ckpt.save_config(cfg.to_dict())
        ckpt.save_inputs(identity)
    return ckpt


def resume(run_dir: str | Path, progress: Progress | None = None, force: bool = False) -> RunResult:
    """Continue the interrupted ``train`` run ``run_dir`` from its last checkpoint (same
    result, CPU). The run is written to ``run_dir`` itself, whatever ``out`` the
    checkpoint recorded (the folders may have been moved)."""
    folder = checkpoint_folder(run_dir)
    cfg = TrainingCheckpoint(folder).saved_config()
    cfg.out = str(run_dir)
    return train(cfg, progress, resume=True, force=force)


def check_run_target(out: str | Path, force: bool = False) -> None:
    """Refuse, before any training, a ``--out`` that is not empty, absent or a run
    directory rdf2mm wrote (and the same for its checkpoint folder), unless ``force``."""
    check_folder_target(out, is_run_dir, "a run directory", force)
    check_folder_target(checkpoint_folder(out), is_checkpoint_dir, "a training checkpoint", force)


def train(cfg: TrainConfig, progress: Progress | None = None, resume: bool = False,
          force: bool = False) -> RunResult:
    """Run ``cfg`` end to end; see the module docstring. ``resume`` continues from a
    checkpoint; ``force`` lets the run replace a ``cfg.out`` rdf2mm did not write."""
    cfg.resolve().validate()
    if cfg.out:
        check_run_target(cfg.out, force)
    try:
        with deterministic_mode(cfg.deterministic):
            if cfg.task == "node-classification":
                result = train_node_classification(cfg, progress, resume)
            else:
                from rdf2mm.tasks.link_prediction import train_link_prediction  # noqa: PLC0415

                result = train_link_prediction(cfg, progress, resume)
    except DivergedError:
        if cfg.out:  # resuming would only diverge again: its checkpoint goes too
            TrainingCheckpoint(checkpoint_folder(cfg.out)).remove()
        raise
    if result.run_dir is not None and (cfg.output or cfg.store):
        from rdf2mm.export import export_run  # noqa: PLC0415

        result.export = export_run(result.run_dir, outputs=tuple(cfg.output), store=cfg.store)
        if progress:
            progress("export", {"files": [f for f in result.export.get("files", [])], "store": cfg.store})
    return result


def train_node_classification(cfg: TrainConfig, progress: Progress | None = None, resume: bool = False) -> RunResult:
    """Node classification end to end (``cfg`` already resolved and validated)."""
    note = progress or (lambda _stage, _info: None)
    started = dt.datetime.now(dt.timezone.utc)
    device = local_device(resolve_device(cfg.device))
    workers = from_environment(device)
    if not cfg.graph:
        raise UsageError("no input graph given")
    modality_map = ModalityMap.from_toml(cfg.modality_map) if cfg.modality_map else ModalityMap()
    kg, fingerprint = read_graph(cfg.graph, format=cfg.format, cache=cfg.cache)
    note("read", {"graph": repr(kg), "triples": kg.num_triples, "entities": kg.num_entities,
                  "relations": kg.num_relations, "literals": kg.num_literals, "cache": kg.stats.get("cache", "miss")})
    if kg.num_triples == 0:
        raise InputError("the input graph is empty")
    labels = load_labels(kg, cfg)
    note("labels", labels.report)
    for message in labels.warnings:
        note("warning", {"message": message})
    kg = remove_targets(kg, labels.target_predicates)
    candidates = candidate_aggregations(cfg, labels)
    inputs = prepare_inputs(kg, cfg.modalities, cfg.literals, cfg.inverse, cfg.text_encoder, modality_map=modality_map)
    note("literals", {"ill_typed": inputs.prepared.ill_typed_total(), "nodes": inputs.mg.num_nodes,
                      "edges": int(inputs.mg.edge_index.shape[1])})
    settings = NCSettings.from_config(cfg)
    batching, estimate = plan_batching(cfg, inputs, settings, labels.num_classes, workers, device, note)
    if device.type == "cpu":
        if batching.mini:
            check_fits(estimate_minibatch_memory(inputs, settings.embed_dim, settings.hidden, settings.layers,
                                                 labels.num_classes, batching.batch_size, batching.fanout),
                       minibatch=True)
        else:
            check_fits(estimate)
    seeds = [cfg.seed + i for i in range(cfg.seeds)]
    ckpt = workers_checkpoint(cfg, workers, resume, len(labels.train), "training nodes",
                              {**input_identity(cfg, fingerprint, inputs, len(labels.train)),
                               "classes": list(labels.class_names)})
    runs: dict[str, list[NCResult]] = {}
    for agg in candidates:
        # Each candidate resumes from its own checkpoint slot; one candidate uses the run's.
        slot = ckpt.slot(f"aggregation-{agg}") if ckpt is not None and len(candidates) > 1 else ckpt
        if len(candidates) > 1:
            note("candidate", {"aggregation": agg, "of": list(candidates)})
        runs[agg] = train_seeds(inputs, labels, replace(settings, aggregation=agg), seeds, device, slot,
                                batching, workers, cfg, note, show_test=len(candidates) == 1)
    chosen, selection = select_on_validation({a: [r.metrics for r in rs] for a, rs in runs.items()})
    results = runs[chosen]
    del runs  # the other candidate's models go
    if len(candidates) > 1:
        note("selected", {"aggregation": chosen, "selection": selection})
        for r in results:
            note("seed_done", {"seed": r.seed, **r.metrics})
    metrics = {**summarise(results, cfg), **batching.report(), "workers": workers.world,
               "aggregation": chosen}
    if cfg.aggregation == "auto":
        metrics["aggregation_selection"] = selection if len(candidates) > 1 else {
            "skipped": "no validation labels to choose on; used the sum"}
    run_dir = None
    if cfg.out and workers.is_main:
        run_dir = write_run(Path(cfg.out), cfg, kg, inputs, labels, results, metrics, fingerprint, seeds,
                            str(device), started)
    if ckpt:
        ckpt.remove()
    workers.barrier()
    return RunResult(metrics=metrics, run_dir=run_dir, per_seed=[r.metrics for r in results])


def candidate_aggregations(cfg: TrainConfig, labels: Labels) -> tuple[str, ...]:
    """The aggregations this run trains: the one asked for, or for ``auto`` both (sum
    first: it wins exact ties). Without validation labels there is nothing to choose on,
    so ``auto`` falls back to the sum."""
    if cfg.aggregation != "auto":
        assert cfg.aggregation is not None
        return (cfg.aggregation,)
    return ("sum", "mean") if len(labels.valid) > 0 else ("sum",)


def train_seeds(inputs: PreparedInputs, labels: Labels, settings: NCSettings, seeds: list[int],
                device: torch.device, ckpt: TrainingCheckpoint | None, batching: Batching, workers: Workers,
                cfg: TrainConfig, note: Progress, show_test: bool = True) -> list[NCResult]:
    """Train one model per seed (finished seeds of an interrupted run are read back).

    ``show_test=False`` keeps test figures out of the progress notes: a candidate still
    being compared on validation should not be judged on test by whoever watches.
    """
    def done_note(res: NCResult, **extra: Any) -> None:
        shown = {k: v for k, v in res.metrics.items() if show_test or not k.startswith("test_")}
        note("candidate_seed_done" if not show_test else "seed_done",
             {"seed": res.seed, "aggregation": settings.aggregation, **extra, **shown})

    results: list[NCResult] = []
    for seed in seeds:
        if ckpt is not None and ckpt.is_done(seed):
            model = build_model(inputs, labels.num_classes, settings)
            done = ckpt.load_done(seed, model, extra=("probabilities", "embeddings"))
            assert done is not None
            model.load_state_dict(done["model"])
            res = NCResult(seed=seed, model=model.to(device), metrics=done["metrics"], curve=done["curve"],
                           probabilities=done["extra"]["probabilities"], embeddings=done["extra"]["embeddings"])
            done_note(res, resumed=True)
            results.append(res)
            continue
        note("seed", {"seed": seed, "aggregation": settings.aggregation})
        res = train_node_classifier(
            inputs, labels, settings, seed, device,
            on_event=as_note(note), checkpoint=ckpt, batching=batching, workers=workers, eval_every=cfg.eval_every,
        )
        res.metrics.update(workers=workers.world)
        if ckpt:
            assert res.probabilities is not None and res.embeddings is not None
            ckpt.save_done(seed, model=res.model, metrics=res.metrics, curve=res.curve,
                           extra={"probabilities": res.probabilities, "embeddings": res.embeddings})
        results.append(res)
        done_note(res)
        # Only the best seed's model is written: free the others' graph-sized tensors now,
        # so that several seeds (and candidates) never hold more than one each.
        best = max(results, key=kept_rank)
        for r in results:
            if r is not best:
                r.release()
    return results


def plan_batching(cfg: TrainConfig, inputs: PreparedInputs, settings: Any, out_dim: int, workers: Workers,
                  device: torch.device, note: Progress) -> tuple[Batching, dict[str, int]]:
    """Full or mini-batch training for this run (see :func:`choose_batching`), and the
    full-batch memory estimate it was chosen from."""
    estimate = estimate_training_memory(inputs, settings.embed_dim, settings.hidden, settings.layers, out_dim)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        available: int | None = int(free)
    else:
        available = available_memory()
    assert cfg.batch_size is not None
    batching = choose_batching(cfg.batching, estimate["total"], available, cfg.full_batch_fraction, workers,
                               cfg.batch_size, cfg.fanout, settings.layers)
    note("memory", {"estimated_peak_mb": estimate["total"] >> 20, **batching.report()})
    return batching, estimate


def workers_checkpoint(cfg: TrainConfig, workers: Workers, resume: bool, num_train: int,
                       what: str, identity: dict[str, Any]) -> TrainingCheckpoint | None:
    """The run's checkpoint (see :func:`run_checkpoint`), after checking that the workers
    can share the ``num_train`` training items. Several workers write no checkpoints: they
    would have to agree on one file set, so they cannot resume either."""
    if not workers.active:
        return run_checkpoint(cfg, resume, identity)
    if resume:
        raise UsageError("--resume is not supported with several workers (torchrun); resume in one process")
    if num_train < workers.world:
        raise UsageError(f"{num_train} {what} cannot be shared by {workers.world} workers")
    return None


def summarise(results: list[NCResult], cfg: TrainConfig) -> dict[str, Any]:
    metrics: dict[str, Any] = {"task": cfg.task, "seeds": len(results)}
    keys = [k for k in results[0].metrics if k.endswith(("accuracy", "macro_f1", "_loss"))]
    for k in keys:
        mean, std = mean_std([r.metrics.get(k, float("nan")) for r in results])
        metrics[k] = mean
        metrics[f"{k}_std"] = std
    metrics["seconds_per_epoch"] = float(np.mean([r.metrics["seconds_per_epoch"] for r in results]))
    return metrics


def write_run(
    folder: Path,
    cfg: TrainConfig,
    kg: KnowledgeGraph,
    inputs: PreparedInputs,
    labels: Labels,
    results: list[NCResult],
    metrics: dict[str, Any],
    fingerprint: str | None,
    seeds: list[int],
    device: str,
    started: dt.datetime,
) -> Path:
    """Write the run directory atomically (see :mod:`rdf2mm.runs`)."""
    best = max(results, key=kept_rank)
    assert best.model is not None
    with atomic_dir(folder, replace=True) as tmp:
        write_config(tmp, cfg.to_dict())
        write_json(tmp / "provenance.json", provenance(fingerprint, seeds, device, started))
        write_json(tmp / "metrics.json", {**metrics, "per_seed": [r.metrics for r in results],
                                          "kept_seed": best.seed})
        write_json(tmp / "literals.json", {"datatypes": inputs.prepared.report, "labels": labels.report})
        write_curve(tmp, [rec for r in results for rec in r.curve])
        write_predictions(tmp, kg, labels, best, cfg.predictions_format)
        save_model(tmp, best.model, model_meta(cfg, kg, inputs, labels, best))
        write_entities(tmp, kg)
        assert best.embeddings is not None
        save_embeddings(tmp, best.embeddings)
    return folder


def write_predictions(folder: Path, kg: KnowledgeGraph, labels: Labels, result: NCResult, fmt: str) -> Path:
    probs = result.probabilities
    assert probs is not None
    split_of = {}
    true_of = {}
    for name in ("train", "valid", "test"):
        s = labels.split(name)
        for n, c in zip(s.nodes.tolist(), s.classes.tolist()):
            split_of[n] = name
            true_of[n] = labels.class_names[c]
    nodes = sorted(split_of) + unlabelled_candidates(kg, labels, set(split_of))
    p = probs[torch.as_tensor(nodes, dtype=torch.long)]
    score, cls = p.max(1)
    return write_table(
        folder / "predictions",
        {
            "entity": [kg.entities[n] for n in nodes],
            "split": [split_of.get(n, "unlabelled") for n in nodes],
            "true_class": [true_of.get(n, "") for n in nodes],
            "predicted_class": [labels.class_names[c] for c in cls.tolist()],
            "score": [round(float(x), 6) for x in score.tolist()],
        },
        fmt,
    )


RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def unlabelled_candidates(kg: KnowledgeGraph, labels: Labels, labelled: set[int]) -> list[int]:
    """Entities like the labelled ones (sharing an rdf:type with them) that carry no label."""
    tid = kg.relation_index().get(RDF_TYPE)
    if tid is None:
        return []
    typed = kg.edges[kg.edges[:, 1] == tid]
    lab = np.fromiter(labelled, dtype=np.int64)
    classes = np.unique(typed[np.isin(typed[:, 0], lab), 2])
    cand = np.unique(typed[np.isin(typed[:, 2], classes), 0])
    return [int(n) for n in cand if int(n) not in labelled]


def model_meta(cfg: TrainConfig, kg: KnowledgeGraph, inputs: PreparedInputs, labels: Labels,
               result: NCResult) -> dict[str, Any]:
    return {
        "format": 1,
        "task": cfg.task,
        "class_names": labels.class_names,
        "num_entities": kg.num_entities,
        "num_nodes": inputs.mg.num_nodes,
        "num_relations": inputs.mg.num_relations,
        "relation_names": inputs.mg.relation_names,
        "modalities": list(inputs.modalities),
        "parsed_meta": {m: d.parsed.meta for m, d in inputs.prepared.data.items()},
        "seed": result.seed,
        "aggregation": getattr(result.model, "aggr", cfg.aggregation),  # the one trained with (config.json may say auto)
        "target_predicates": labels.target_predicates,
        "datatypes": kg.datatypes,
        "labelled_entities": [kg.entities[n] for name in ("train", "valid", "test")
                              for n in labels.split(name).nodes.tolist()],
    }
