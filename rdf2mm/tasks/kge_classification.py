"""Node classification with an entity-table model (plain or literal KGE): two stages, one run.

The standard protocol for KGE embeddings in node classification, per seed:

1. **Embedding.** The model trains its own link-prediction objective (the one
   ``--task link-prediction`` trains, on the same :class:`~rdf2mm.tasks.lp_training.LinkPredictorTraining`)
   on the graph's entity-entity triples **without the label predicate's triples**:
   the pipeline drops them (:func:`~rdf2mm.tasks.label_graph.remove_targets`) before
   anything here sees the graph, so no label leaks into the embeddings. A seeded share
   of the triples (:data:`EMBEDDING_VALID_SHARE`, drawn by
   :func:`~rdf2mm.tasks.lp_splits.auto_split`, which keeps every entity in training) is
   held out for early stopping on filtered MRR.
2. **Classifier.** Softmax regression (``classifier_hidden`` > 0: one ReLU layer
   first) on the frozen entity representation the decoder scores (for a literal model
   the one that fuses the literals), trained on the training labels on the
   node-classification loop, early stopped on validation accuracy; the test split is
   scored once with the best weights.

Settings: every train setting applies to stage 1 as it would to ``--task
link-prediction --model NAME`` (a KGE model's task-dependent defaults are link
prediction's, see :meth:`rdf2mm.config.TrainConfig.resolve`); the classifier trains
with node classification's defaults (:func:`classifier_settings`).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rdf2mm.config import TrainConfig
from rdf2mm.errors import DataError, UsageError
from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.models.feature_classifier import FeatureClassifier, TwoStageClassifier
from rdf2mm.runs.checkpoint import TrainingCheckpoint
from rdf2mm.runs.node_classification import write_nc_run
from rdf2mm.runs.read import RunFiles
from rdf2mm.runs.result import RunResult
from rdf2mm.tasks.distributed import Workers
from rdf2mm.tasks.inputs import PreparedInputs
from rdf2mm.tasks.labels import Labels
from rdf2mm.tasks.lp_splits import LinkSplits, auto_split
from rdf2mm.tasks.lp_training import build_model as build_embedder
from rdf2mm.tasks.lp_training import train_link_predictor
from rdf2mm.tasks.node_classification import NCResult, NodeClassifierTraining, kept_rank, release_all_but_best
from rdf2mm.tasks.run_common import Progress, input_identity, mean_std, summarise, workers_checkpoint
from rdf2mm.tasks.settings import LPSettings, NCSettings
from rdf2mm.training.events import as_note

#: the share of stage 1's triples held out to early-stop it (seeded by the seed)
EMBEDDING_VALID_SHARE = 0.05
#: what a seed's metrics keep of stage 1's, prefixed ``embedding_``
EMBEDDING_FIGURES = ("best_epoch", "epochs_run", "stopped", "train_seconds", "seconds_per_epoch", "negatives")


def embedding_settings(cfg: TrainConfig) -> LPSettings:
    """Stage 1's settings: the run's, as link prediction reads them."""
    return LPSettings.from_config(cfg)


def classifier_settings(cfg: TrainConfig) -> NCSettings:
    """Stage 2's settings: node classification's defaults (learning rate, weight decay,
    epochs, patience, dropout), with the run's mixed-precision and clipping choices."""
    return NCSettings(model=cfg.model, amp=cfg.amp, clip=cfg.clip)


def embedding_splits(kg: KnowledgeGraph, seed: int) -> LinkSplits:
    """Stage 1's triples: every entity-entity triple of ``kg`` (which no longer holds the
    label predicate's), :data:`EMBEDDING_VALID_SHARE` of them held out for validation;
    nothing is kept for a test (the test is the classifier's)."""
    share = EMBEDDING_VALID_SHARE
    try:
        # auto_split pins every entity and relation to training; its test share goes back to training.
        split = auto_split(kg, (1 - 2 * share, share, share), seed)
    except DataError as exc:
        raise DataError(f"node classification with an entity-table model learns its embeddings from the "
                        f"entity-entity triples, and {exc.message}") from None
    train = np.concatenate([split.train, split.test])
    train = train[np.lexsort((train[:, 2], train[:, 1], train[:, 0]))]
    report = {"source": "auto", "seed": seed, "sizes": {"train": len(train), "valid": len(split.valid)}}
    return LinkSplits(kg, train, split.valid, np.zeros((0, 3), dtype=np.int64), None, report)


class FrozenFeatureTraining(NodeClassifierTraining):
    """Stage 2 on the node-classification loop: the classifier's input is the frozen
    features (held where the graph encoder's adjacency would be), full batch."""

    def __init__(self, features: torch.Tensor, inputs: PreparedInputs, labels: Labels, settings: NCSettings,
                 seed: int, device: torch.device, hidden: int = 0, **loop: Any) -> None:
        super().__init__(inputs, labels, settings, seed, device, batching=None, **loop)
        self.features, self.hidden = features, hidden

    def build(self) -> FeatureClassifier:  # type: ignore[override]
        model = FeatureClassifier(self.features.shape[1], self.labels.num_classes, self.hidden,
                                  self.settings.dropout).to(self.device)
        self.sampler = None
        self.adj = self.features.to(self.device)  # type: ignore[assignment]
        model.fit_scaling(self.adj)
        self.label_tensors()
        return model  # type: ignore[return-value]


def build_two_stage(inputs: PreparedInputs, num_classes: int, cfg: TrainConfig) -> TwoStageClassifier:
    """A fresh embedder and classifier shaped like a trained pair (to load saved weights into)."""
    embedder = build_embedder(inputs, embedding_settings(cfg))
    with torch.no_grad():
        width = int(embedder.eval()().shape[1])
    classifier = FeatureClassifier(width, num_classes, cfg.classifier_hidden, classifier_settings(cfg).dropout)
    return TwoStageClassifier(embedder, classifier)


def train_two_stage(
    inputs: PreparedInputs, labels: Labels, cfg: TrainConfig, seed: int, device: torch.device,
    note: Progress, ckpt: TrainingCheckpoint | None = None,
) -> NCResult:
    """One seed of both stages; the result's model is the :class:`TwoStageClassifier`."""
    started = time.perf_counter()
    splits = embedding_splits(inputs.kg, seed)
    note("stage", {"seed": seed, "stage": "embedding", "triples": splits.report["sizes"]})
    emb = train_link_predictor(inputs, splits, embedding_settings(cfg), seed, device, on_event=as_note(note),
                               checkpoint=ckpt.slot("embedding") if ckpt else None)
    assert emb.embeddings is not None
    note("stage", {"seed": seed, "stage": "classifier", "valid_mrr": emb.metrics.get("valid_mrr")})
    # A copy: a plain model's embeddings are its entity table itself (one tensor saved twice otherwise).
    clf = FrozenFeatureTraining(emb.embeddings.clone(), inputs, labels, classifier_settings(cfg), seed, device,
                                cfg.classifier_hidden, on_event=as_note(note),
                                checkpoint=ckpt.slot("classifier") if ckpt else None).run()
    assert clf.model is not None
    metrics = dict(clf.metrics)
    metrics.update({f"embedding_{k}": emb.metrics[k] for k in EMBEDDING_FIGURES if k in emb.metrics})
    metrics.update({f"embedding_{k}": v for k, v in emb.metrics.items() if k.startswith("valid_")})
    metrics["seconds"] = time.perf_counter() - started
    model = TwoStageClassifier(emb.model, clf.model)  # type: ignore[arg-type]
    return NCResult(seed=seed, model=model, metrics=metrics, curve=clf.curve, probabilities=clf.probabilities,
                    embeddings=clf.embeddings)


def train_kge_classification(
    cfg: TrainConfig, kg: KnowledgeGraph, inputs: PreparedInputs, labels: Labels, fingerprint: str | None,
    device: torch.device, workers: Workers, note: Progress, resume: bool, started: Any,
) -> RunResult:
    """A node-classification run of an entity-table model (``kg``: the graph without the
    label triples, ``inputs`` prepared from it): every seed's two stages, the summary over
    the seeds and the run directory, as an MR-GCN run writes them."""
    if workers.active:
        raise UsageError(f"--model {cfg.model} trains in one process: several workers (torchrun) split "
                         "mini-batches of sampled neighbourhoods, which an entity table does not have")
    seeds = [cfg.seed + i for i in range(cfg.seeds)]
    ckpt = workers_checkpoint(cfg, workers, resume, len(labels.train), "training nodes",
                              {**input_identity(cfg, fingerprint, inputs, len(labels.train)),
                               "classes": list(labels.class_names)})
    results: list[NCResult] = []
    for seed in seeds:
        if ckpt is not None and ckpt.is_done(seed):
            results.append(_load_done_seed(ckpt, seed, inputs, labels, cfg, device))
            note("seed_done", {"seed": seed, "resumed": True, **results[-1].metrics})
            continue
        note("seed", {"seed": seed})
        res = train_two_stage(inputs, labels, cfg, seed, device, note, ckpt)
        if ckpt:
            assert res.probabilities is not None and res.embeddings is not None and res.model is not None
            ckpt.save_done(seed, model=res.model, metrics=res.metrics, curve=res.curve,
                           extra={"probabilities": res.probabilities, "embeddings": res.embeddings})
        results.append(res)
        note("seed_done", {"seed": seed, **res.metrics})
        release_all_but_best(results)
    metrics = {**summarise(results, cfg), "threads": int(cfg.threads), "workers": 1,
               "batching": "full", "batching_reason": "an entity-table model trains in full batches"}
    for key in ("embedding_valid_mrr", "embedding_seconds_per_epoch", "embedding_epochs_run", "seconds"):
        values = [float(r.metrics[key]) for r in results if key in r.metrics]
        if values:
            metrics[key], metrics[f"{key}_std"] = mean_std(values)
    run_dir = None
    if cfg.out:
        run_dir = write_nc_run(Path(cfg.out), cfg, kg, inputs, labels, results, max(results, key=kept_rank),
                               metrics, fingerprint, seeds, str(device), started)
    if ckpt:
        ckpt.remove()
    return RunResult(metrics=metrics, run_dir=run_dir, per_seed=[r.metrics for r in results])


def _load_done_seed(ckpt: TrainingCheckpoint, seed: int, inputs: PreparedInputs, labels: Labels,
                    cfg: TrainConfig, device: torch.device) -> NCResult:
    """A seed an interrupted run finished, read back from its checkpoint."""
    model = build_two_stage(inputs, labels.num_classes, cfg)
    done = ckpt.load_done(seed, model, extra=("probabilities", "embeddings"))
    assert done is not None
    model.load_state_dict(done["model"])
    return NCResult(seed=seed, model=model.to(device), metrics=done["metrics"], curve=done["curve"],
                    probabilities=done["extra"]["probabilities"], embeddings=done["extra"]["embeddings"])


def check_same_entities(kg: KnowledgeGraph, run_dir: Path, model: str) -> None:
    """An entity table has a row for each entity it was trained on and none for others:
    predicting needs the run's own graph."""
    if RunFiles(run_dir).entities() != kg.entities:
        raise DataError(f"{run_dir}: a --model {model} run classifies the entities of the graph it was trained "
                        "on (an entity table has no embedding for an entity it never saw, and its literal "
                        "features are the training graph's); predict on that graph, or train on the new one")


def rebuild_two_stage(inputs: PreparedInputs, num_classes: int, cfg: TrainConfig,
                      state: dict[str, torch.Tensor], run_dir: Path) -> TwoStageClassifier:
    """The trained pair of a run directory, its weights loaded (``predict``)."""
    model = build_two_stage(inputs, num_classes, cfg)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise DataError(f"{run_dir}: the weights do not fit the model rebuilt from the run's config and graph "
                        f"({str(exc).splitlines()[0]})") from None
    return model

