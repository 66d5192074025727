"""Node classification: train an MR-GCN with softmax over classes, evaluate on test.

Model selection and early stopping use the validation split only; the test split is
scored once, with the weights of the best validation epoch (really restored: the
weights are copied, not referenced, unlike the MR-GCN reference code).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Unpack

import numpy as np
import torch
import torch.nn.functional as F

from rdf2mm.graph.sampling import NeighbourSampler
from rdf2mm.models.mrgcn import MRGCN
from rdf2mm.tasks.inputs import PreparedInputs, build_encoder
from rdf2mm.tasks.minibatch import Batching, epoch_batches, forward_batch, layerwise_inference
from rdf2mm.tasks.settings import NCSettings
from rdf2mm.tasks.labels import LabelSplit, Labels
from rdf2mm.training.loop import LoopOptions, TrainingLoop


@dataclass
class NCResult:
    """One seed's trained model, metrics and curve."""

    seed: int
    #: the trained model (None once released: only its metrics and curve were needed)
    model: MRGCN | None
    metrics: dict[str, float]
    curve: list[dict[str, float]] = field(default_factory=list)
    #: softmax probabilities for every entity, [E, C] (CPU)
    probabilities: torch.Tensor | None = None
    #: entity embeddings (representation before the output layer), [E, hidden] float32 (CPU)
    embeddings: torch.Tensor | None = None

    def release(self) -> None:
        """Drop the model and the per-entity tensors (each as big as the graph), keeping
        the metrics and curve: for seeds whose model the run will not write."""
        self.model = self.probabilities = self.embeddings = None


def kept_rank(result: NCResult) -> tuple[float, int]:
    """Which seed's model a run keeps: the best validation accuracy, the earlier seed on a tie."""
    return (result.metrics.get("valid_accuracy", 0.0), -result.seed)


def release_all_but_best(results: list[NCResult]) -> None:
    """Only the best seed's model is written: free the others' graph-sized tensors now,
    so that several seeds (and candidates) never hold more than one each."""
    if results:
        best = max(results, key=kept_rank)
        for r in results:
            if r is not best:
                r.release()


def build_model(inputs: PreparedInputs, num_classes: int, s: NCSettings) -> MRGCN:
    return build_encoder(inputs, s, out_dim=num_classes)


def accuracy_and_f1(pred: np.ndarray, true: np.ndarray, num_classes: int) -> tuple[float, float]:
    """Accuracy and macro-F1 (classes absent from both pred and true are ignored)."""
    if len(true) == 0:
        return float("nan"), float("nan")
    acc = float((pred == true).mean())
    f1s = []
    for c in range(num_classes):
        tp = int(((pred == c) & (true == c)).sum())
        fp = int(((pred == c) & (true != c)).sum())
        fn = int(((pred != c) & (true == c)).sum())
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return acc, float(np.mean(f1s)) if f1s else float("nan")


class NodeClassifierTraining(TrainingLoop[NCResult]):
    """Node classification on the training loop: cross-entropy over the labelled training
    nodes, validation accuracy (then loss) watched for early stopping."""

    stats_size = 3  # summed loss, correct predictions, nodes
    worst_key = (-1.0, float("-inf"))

    def __init__(self, inputs: PreparedInputs, labels: Labels, settings: NCSettings, seed: int,
                 device: torch.device, batching: Batching | None = None, eval_every: int = 1,
                 **loop: Any) -> None:
        mini = batching is not None and batching.mini
        # Full batch evaluates every epoch (an epoch is one step; validation is cheap beside it).
        super().__init__(settings, seed, device, eval_every=eval_every if mini else 1,
                         has_validation=len(labels.valid) > 0, mini=mini, **loop)
        self.inputs, self.labels, self.batching = inputs, labels, batching
        self.outputs: tuple[torch.Tensor, torch.Tensor | None] | None = None
        self.best_outputs: tuple[torch.Tensor, torch.Tensor | None] | None = None

    def build(self) -> MRGCN:
        inputs, labels, device = self.inputs, self.labels, self.device
        model = build_model(inputs, labels.num_classes, self.settings).to(device)  # type: ignore[arg-type]
        mg = inputs.mg
        self.sampler = NeighbourSampler(mg.edge_index, mg.edge_type, mg.num_nodes, list(self.batching.fanout),
                                        self.settings.aggregation) if self.mini and self.batching else None
        self.adj = None if self.mini else inputs.adjacency(device)
        self.label_tensors()
        return model

    def label_tensors(self) -> None:
        """The training and validation nodes and classes on the device, and the positions
        batches index them by."""
        def tensors(split: LabelSplit) -> tuple[torch.Tensor, torch.Tensor]:
            return torch.as_tensor(split.nodes, device=self.device), torch.as_tensor(split.classes, device=self.device)

        self.tr_nodes, self.tr_y = tensors(self.labels.train)
        self.va_nodes, self.va_y = tensors(self.labels.valid)
        # Where each training node sits in the label arrays: batches are positions into them.
        self.train_pos = np.arange(len(self.labels.train), dtype=np.int64)

    def all_outputs(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits of every node (and, mini-batch, the embeddings), in eval mode."""
        self.model.eval()
        if self.sampler is not None:
            out, emb = layerwise_inference(self.model, self.sampler, self.inputs.mg.num_relations, self.device,
                                           self.autocast, self.workers)
            return out.to(self.device), emb
        with torch.no_grad(), self.autocast():
            return self.model(self.adj).float(), None

    def epoch_batches(self, epoch: int) -> list[np.ndarray | None]:
        if not self.mini:
            return [None]  # one full-batch step
        assert self.batching is not None
        # The sampling RNG depends only on (seed, epoch, worker): a resumed run draws
        # the same neighbourhoods as an uninterrupted one.
        self.rng = np.random.default_rng([self.seed, epoch, self.workers.rank])
        order_rng = np.random.default_rng([self.seed, epoch])  # same shuffle on every worker
        return list(epoch_batches(self.train_pos, self.batching.batch_size, order_rng, self.workers))

    def skip_batch(self, batch: np.ndarray | None) -> bool:
        return batch is not None and len(batch) == 0

    def batch_loss(self, batch: np.ndarray | None) -> tuple[torch.Tensor, torch.Tensor]:
        if batch is None:
            nodes, y = self.tr_nodes, self.tr_y
            with self.autocast():
                logits = self.net(self.adj).float()[nodes]
        else:
            assert self.sampler is not None
            idx = torch.as_tensor(batch, device=self.device)
            y = self.tr_y[idx]
            with self.autocast():
                logits = forward_batch(self.net, self.sampler, self.labels.train.nodes[batch],
                                       self.inputs.mg.num_relations, self.device, self.rng).float()
        loss = F.cross_entropy(logits, y)
        d = loss.detach()
        correct = (logits.argmax(1) == y).sum()
        return loss, torch.stack([d.float() * len(y), correct.float(), d.new_tensor(float(len(y)))])

    def epoch_figures(self, sums: torch.Tensor, steps: int) -> dict[str, float]:
        return {"train_loss": float(sums[0] / sums[2]), "train_accuracy": float(sums[1] / sums[2])}

    def validate(self, epoch: int) -> tuple[tuple[float, float], dict[str, float]]:
        self.outputs = self.all_outputs()
        ev = self.outputs[0]
        va_loss = float(F.cross_entropy(ev[self.va_nodes], self.va_y))
        va_acc = float((ev[self.va_nodes].argmax(1) == self.va_y).float().mean())
        return (va_acc, -va_loss), {"valid_loss": va_loss, "valid_accuracy": va_acc}

    def train_key(self, record: dict[str, float]) -> tuple[float, float]:
        return (record["train_accuracy"], -record["train_loss"])

    def on_best(self, evaluated: bool) -> None:
        # The outputs of exactly the weights kept as best: the final whole-graph pass (the
        # costly part at scale) is not repeated.
        self.best_outputs = self.outputs if evaluated and self.mini else None

    def finish(self, metrics: dict[str, float], curve: list[dict[str, float]]) -> NCResult:
        model, labels, mg = self.model, self.labels, self.inputs.mg
        out, embeddings = self.best_outputs if self.best_outputs is not None else self.all_outputs()
        probs = torch.softmax(out[: mg.num_entities], dim=1).cpu()
        if embeddings is None:
            embeddings = model.embed(self.adj)
        embeddings = embeddings[: mg.num_entities].float().cpu()
        for name in ("train", "valid", "test"):
            split = labels.split(name)
            if len(split) == 0:
                continue
            idx = torch.as_tensor(split.nodes)
            pred = probs[idx].argmax(1).numpy()
            acc, f1 = accuracy_and_f1(pred, split.classes, labels.num_classes)
            metrics[f"{name}_accuracy"] = acc
            metrics[f"{name}_macro_f1"] = f1
            # Cross-entropy of the kept weights: what ties between candidates are broken on.
            metrics[f"{name}_loss"] = float(F.cross_entropy(out[idx.to(out.device)].float(),
                                                            torch.as_tensor(split.classes, device=out.device)))
        return NCResult(seed=self.seed, model=model, metrics=metrics, curve=curve, probabilities=probs,
                        embeddings=embeddings)


def train_node_classifier(
    inputs: PreparedInputs, labels: Labels, settings: NCSettings, seed: int, device: torch.device,
    batching: Batching | None = None, eval_every: int = 1, **loop: Unpack[LoopOptions],
) -> NCResult:
    """Train one model with one seed; returns it with its best-validation weights.

    Full batch unless ``batching`` says mini (then each step runs on the sampled
    neighbourhood of a batch of training nodes, and evaluation is exact layer-wise
    inference every ``eval_every`` epochs; full batch evaluates every epoch). With
    several ``workers`` (torchrun) each trains on its share of the batches and gradients
    are averaged. Timing and early stopping follow :mod:`rdf2mm.training.loop`.

    With ``checkpoint``, the state is saved every ``checkpoint.every`` epochs and a saved
    state for this seed is resumed from, giving the same result as an uninterrupted run.
    Progress goes to ``on_event`` as typed events.
    """
    return NodeClassifierTraining(inputs, labels, settings, seed, device, batching, eval_every, **loop).run()
