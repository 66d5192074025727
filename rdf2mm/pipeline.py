"""The training pipeline end to end: read, build, encode, train, evaluate, write.

This is the library behind ``rdf2mm train``: :func:`train` takes a
:class:`~rdf2mm.config.TrainConfig` and returns the metrics, writing a run directory
when ``cfg.out`` is set. The CLI only parses options and prints.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import torch

from rdf2mm.runs.checkpoint import TrainingCheckpoint, checkpoint_folder
from rdf2mm.config import TrainConfig
from rdf2mm.errors import DivergedError, InputError, UsageError
from rdf2mm.graph.ingest import read_graph
from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.io.targets import check_folder_target, is_checkpoint_dir, is_run_dir
from rdf2mm.modalities.registry import ModalityMap
from rdf2mm.models.registry import KGE_MODELS
from rdf2mm.runs.node_classification import write_nc_run
from rdf2mm.runs.result import RunResult
from rdf2mm.tasks.distributed import Workers, from_environment, local_device
from rdf2mm.tasks.inputs import PreparedInputs, prepare_inputs, resolve_device
from rdf2mm.tasks.memory import check_fits, estimate_minibatch_memory
from rdf2mm.tasks.minibatch import Batching
from rdf2mm.tasks.model_selection import clear_winner, select_on_validation
from rdf2mm.tasks.run_common import Progress, input_identity, plan_batching, summarise, workers_checkpoint
from rdf2mm.tasks.label_graph import remove_targets
from rdf2mm.tasks.labels import Labels, labels_from_files, labels_from_target
from rdf2mm.tasks.node_classification import (
    NCResult, NCSettings, build_model, kept_rank, release_all_but_best, train_node_classifier,
)
from rdf2mm.training.events import as_note
from rdf2mm.training.seeding import deterministic_mode
from rdf2mm.training.threads import cpu_threads, use_training_threads


def load_labels(kg: KnowledgeGraph, cfg: TrainConfig) -> Labels:
    if cfg.train:
        if cfg.target:
            raise UsageError("give either --target or --train/--valid/--test label files, not both")
        return labels_from_files(kg, cfg.train, cfg.valid, cfg.test)
    if cfg.target:
        return labels_from_target(kg, cfg.target, cfg.split, seed=cfg.seed)
    raise UsageError("node classification needs labels: --target PREDICATE or --train/--valid/--test files")


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
        with deterministic_mode(cfg.deterministic), cpu_threads(cfg.threads):
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
    inputs = prepare_inputs(kg, cfg.modalities, cfg.literals, cfg.inverse, cfg.text_encoder, modality_map=modality_map,
                            shuffle_seed=cfg.seed if cfg.shuffle_literals else None,
                            image_encoder=cfg.image_encoder)
    note("literals", {"ill_typed": inputs.prepared.ill_typed_total(), "nodes": inputs.mg.num_nodes,
                      "edges": int(inputs.mg.edge_index.shape[1])})
    use_training_threads(cfg, inputs)  # cfg.threads: the count used
    if cfg.model in KGE_MODELS:  # an entity table: its embeddings first, then a classifier on them
        from rdf2mm.tasks.kge_classification import train_kge_classification  # noqa: PLC0415

        return train_kge_classification(cfg, kg, inputs, labels, fingerprint, device, workers, note, resume, started)
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

    def train_candidate(agg: str, some: list[int], racing: bool) -> list[NCResult]:
        # Each candidate resumes from its own checkpoint slot; one candidate uses the run's.
        slot = ckpt.slot(f"aggregation-{agg}") if ckpt is not None and len(candidates) > 1 else ckpt
        return train_seeds(inputs, labels, replace(settings, aggregation=agg), some, device, slot,
                           batching, workers, cfg, note, comparing=racing)

    if len(candidates) == 1:
        chosen, results = candidates[0], train_candidate(candidates[0], seeds, racing=False)
    else:
        chosen, results, selection, compared = race_candidates(candidates, seeds, train_candidate,
                                                               len(labels.valid), note)
    metrics = {**summarise(results, cfg), **batching.report(), "workers": workers.world,
               "threads": int(cfg.threads), "aggregation": chosen}
    if cfg.aggregation == "auto":
        if len(candidates) > 1:
            metrics["aggregation_selection"] = selection
            metrics["aggregation_seeds_compared"] = compared
        else:
            metrics["aggregation_selection"] = {"skipped": "no validation labels to choose on; used the sum"}
    run_dir = None
    if cfg.out and workers.is_main:
        run_dir = write_nc_run(Path(cfg.out), cfg, kg, inputs, labels, results, max(results, key=kept_rank),
                               metrics, fingerprint, seeds, str(device), started)
    if ckpt:
        ckpt.remove()
    workers.barrier()
    return RunResult(metrics=metrics, run_dir=run_dir, per_seed=[r.metrics for r in results])


def race_candidates(
    candidates: tuple[str, ...], seeds: list[int], train_candidate: Callable[[str, list[int], bool], list[NCResult]],
    num_valid: int, note: Progress,
) -> tuple[str, list[NCResult], dict[str, dict[str, float]], int]:
    """Train every candidate seed by seed until one leads clearly on validation
    (:func:`~rdf2mm.tasks.model_selection.clear_winner`), then the remaining seeds with the
    chosen one only. Returns the choice, its results for every seed, each candidate's
    validation summary over the seeds compared, and how many seeds were compared."""
    runs: dict[str, list[NCResult]] = {a: [] for a in candidates}
    compared = 0
    for seed in seeds:
        for agg in candidates:
            note("candidate", {"aggregation": agg, "of": list(candidates), "seed": seed})
            runs[agg] += train_candidate(agg, [seed], True)
            release_all_but_best(runs[agg])
        compared += 1
        winner = clear_winner({a: [r.metrics for r in rs] for a, rs in runs.items()}, num_valid)
        if winner is not None:
            break
    best, summary = select_on_validation({a: [r.metrics for r in rs] for a, rs in runs.items()})
    chosen = winner or best
    results = runs[chosen]
    del runs  # the other candidates' models go
    note("selected", {"aggregation": chosen, "selection": summary, "seeds_compared": compared})
    for r in results:
        note("seed_done", {"seed": r.seed, **r.metrics})
    if seeds[compared:]:
        results += train_candidate(chosen, seeds[compared:], False)
    release_all_but_best(results)
    return chosen, results, summary, compared


def candidate_aggregations(cfg: TrainConfig, labels: Labels) -> tuple[str, ...]:
    """The aggregations this run trains: the one asked for, or for ``auto`` both (the
    mean first, R-GCN's and the MR-GCN paper's: it wins exact ties). Without validation
    labels there is nothing to choose on, so ``auto`` falls back to the sum."""
    if cfg.aggregation != "auto":
        assert cfg.aggregation is not None
        return (cfg.aggregation,)
    return ("mean", "sum") if len(labels.valid) > 0 else ("sum",)


def train_seeds(inputs: PreparedInputs, labels: Labels, settings: NCSettings, seeds: list[int],
                device: torch.device, ckpt: TrainingCheckpoint | None, batching: Batching, workers: Workers,
                cfg: TrainConfig, note: Progress, comparing: bool = False) -> list[NCResult]:
    """Train one model per seed (finished seeds of an interrupted run are read back).

    ``comparing`` (a candidate still being compared on validation) keeps test figures
    out of the progress notes, so that nobody watching judges it on test. Compared seeds
    stop like the others (patience, or perfect and flat validation): candidates level at
    perfect validation are a tie that keeps the first
    (:func:`~rdf2mm.tasks.model_selection.clear_winner`), so no comparison rests on
    losses that depend on when each stopped.
    """
    def done_note(res: NCResult, **extra: Any) -> None:
        shown = {k: v for k, v in res.metrics.items() if not comparing or not k.startswith("test_")}
        note("candidate_seed_done" if comparing else "seed_done",
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
        release_all_but_best(results)
    return results
