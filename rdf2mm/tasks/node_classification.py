"""Node classification: train an MR-GCN with softmax over classes, evaluate on test.

Model selection and early stopping use the validation split only; the test split is
scored once, with the weights of the best validation epoch (really restored: the
weights are copied, not referenced, unlike the MR-GCN reference code).
"""
from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from rdf2mm.checkpoint import TrainingCheckpoint, restore_optimizer
from rdf2mm.graph.sampling import NeighbourSampler
from rdf2mm.models.mrgcn import MRGCN
from rdf2mm.tasks.distributed import Workers
from rdf2mm.tasks.inputs import PreparedInputs, build_encoder, seed_everything
from rdf2mm.tasks.minibatch import Batching, epoch_batches, forward_batch, layerwise_inference
from rdf2mm.tasks.settings import NCSettings
from rdf2mm.tasks.labels import LabelSplit, Labels

#: called after every epoch with (epoch, record) for progress display
EpochCallback = Callable[[int, dict[str, float]], None]
#: called after every mini-batch step with (epoch, step, steps): epochs of a big graph take minutes
StepCallback = Callable[[int, int, int], None]


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


def train_node_classifier(
    inputs: PreparedInputs,
    labels: Labels,
    settings: NCSettings,
    seed: int,
    device: torch.device,
    on_epoch: EpochCallback | None = None,
    checkpoint: TrainingCheckpoint | None = None,
    batching: Batching | None = None,
    workers: Workers | None = None,
    eval_every: int = 1,
    on_step: StepCallback | None = None,
) -> NCResult:
    """Train one model with one seed; returns it with its best-validation weights.

    Full batch unless ``batching`` says mini (then each step runs on the sampled
    neighbourhood of a batch of training nodes, and evaluation is exact layer-wise
    inference every ``eval_every`` epochs). With several ``workers`` (torchrun) each
    trains on its share of the batches and gradients are averaged.

    With ``checkpoint``, the state is saved every ``checkpoint.every`` epochs and a saved
    state for this seed is resumed from, giving the same result as an uninterrupted run.
    """
    seed_everything(seed)
    workers = workers or Workers()
    mini = batching is not None and batching.mini
    model = build_model(inputs, labels.num_classes, settings).to(device)
    mg = inputs.mg
    sampler = NeighbourSampler(mg.edge_index, mg.edge_type, mg.num_nodes, list(batching.fanout),
                               inputs.aggregation) if mini else None
    adj = None if mini else inputs.adjacency(device)
    net = workers.wrap(model, device) if mini else model
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)

    def tensors(split: LabelSplit) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.as_tensor(split.nodes, device=device), torch.as_tensor(split.classes, device=device)

    tr_nodes, tr_y = tensors(labels.train)
    va_nodes, va_y = tensors(labels.valid)
    has_valid = len(labels.valid) > 0
    use_amp = settings.amp and device.type == "cuda"
    autocast = (
        (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_amp else contextlib.nullcontext
    )

    def all_outputs() -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits of every node (and, mini-batch, the embeddings), in eval mode."""
        model.eval()
        if sampler is not None:
            out, emb = layerwise_inference(model, sampler, mg.num_relations, device, autocast, workers)
            return out.to(device), emb
        with torch.no_grad(), autocast():
            return model(adj).float(), None

    def step(nodes: torch.Tensor, y: torch.Tensor, batch: np.ndarray | None, rng: np.random.Generator | None
             ) -> tuple[torch.Tensor, torch.Tensor]:
        opt.zero_grad(set_to_none=True)
        with autocast():
            if batch is None:
                logits = net(adj).float()[nodes]
            else:
                assert sampler is not None and rng is not None
                logits = forward_batch(net, sampler, batch, mg.num_relations, device, rng).float()
        loss = F.cross_entropy(logits, y)
        loss.backward()
        if settings.clip and settings.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip)
        opt.step()
        return loss.detach(), (logits.argmax(1) == y).sum()

    # Where each training node sits in the label arrays: batches are positions into them.
    train_pos = np.arange(len(labels.train), dtype=np.int64)
    best_state: dict[str, torch.Tensor] | None = None
    best_key: tuple[float, float] = (-1.0, float("-inf"))
    best_epoch = 0
    curve: list[dict[str, float]] = []
    stale = 0
    start = 1
    saved = checkpoint.load_progress(seed, model, settings.epochs) if checkpoint else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        restore_optimizer(opt, saved["opt_tensors"], saved["optimizer"])
        best_state = saved["best"]
        c = saved["counters"]
        best_key, best_epoch, stale = tuple(c["best_key"]), c["best_epoch"], c["stale"]  # type: ignore[assignment]
        curve = saved["curve"]
        start = saved["epoch"] + 1
        torch.set_rng_state(saved["rng_torch"])
        if saved["rng_cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(saved["rng_cuda"])
    t0 = time.perf_counter()
    eval_seconds = 0.0
    outputs: tuple[torch.Tensor, torch.Tensor | None] | None = None
    best_outputs: tuple[torch.Tensor, torch.Tensor | None] | None = None
    for epoch in range(start, settings.epochs + 1):
        model.train()
        if not mini:
            loss, correct = step(tr_nodes, tr_y, None, None)
            sums = torch.stack([loss.float() * len(tr_y), correct.float(), loss.new_tensor(float(len(tr_y)))])
        else:
            assert batching is not None
            # The sampling RNG depends only on (seed, epoch, worker): a resumed run draws
            # the same neighbourhoods as an uninterrupted one.
            rng = np.random.default_rng([seed, epoch, workers.rank])
            order_rng = np.random.default_rng([seed, epoch])  # same shuffle on every worker
            sums = torch.zeros(3, device=device)  # summed on the device: no host sync per step
            batches = list(epoch_batches(train_pos, batching.batch_size, order_rng, workers))
            for step_no, pos in enumerate(batches, 1):
                if on_step:
                    on_step(epoch, step_no, len(batches))
                if len(pos) == 0:
                    continue
                idx = torch.as_tensor(pos, device=device)
                loss, correct = step(tr_nodes[idx], tr_y[idx], labels.train.nodes[pos], rng)
                sums += torch.stack([loss.float() * len(pos), correct.float(), loss.new_tensor(float(len(pos)))])
            workers.all_reduce(sums)
        sums = sums.cpu()
        record = {"epoch": epoch, "seed": seed, "train_loss": float(sums[0] / sums[2]),
                  "train_accuracy": float(sums[1] / sums[2])}
        settings.check_loss(record["train_loss"], seed, epoch)
        evaluate_now = has_valid and (not mini or epoch % eval_every == 0 or epoch == settings.epochs)
        if evaluate_now:
            te = time.perf_counter()
            outputs = all_outputs()
            ev = outputs[0]
            eval_seconds += time.perf_counter() - te
            va_loss = float(F.cross_entropy(ev[va_nodes], va_y))
            va_acc = float((ev[va_nodes].argmax(1) == va_y).float().mean())
            record.update(valid_loss=va_loss, valid_accuracy=va_acc)
            key: tuple[float, float] | None = (va_acc, -va_loss)
        elif has_valid:
            key = None
        else:
            key = (record["train_accuracy"], -record["train_loss"])
        curve.append(record)
        if on_epoch:
            on_epoch(epoch, record)
        if key is not None:
            if key > best_key:
                best_key, best_epoch, stale = key, epoch, 0
                # The outputs of exactly the weights kept as best: the final whole-graph
                # pass (the costly part at scale) is not repeated.
                best_outputs = outputs if evaluate_now and mini else None
                # A real copy: a state_dict holds references to the live tensors.
                best_state = copy.deepcopy({k: v.detach().clone() for k, v in model.state_dict().items()})
            else:
                stale += eval_every if mini else 1
                if has_valid and stale >= settings.patience:
                    break
        if checkpoint and checkpoint.every and epoch % checkpoint.every == 0 and epoch < settings.epochs:
            checkpoint.save_progress(
                seed, epoch=epoch, model=model, opt=opt, best_state=best_state, curve=curve,
                counters={"best_key": list(best_key), "best_epoch": best_epoch, "stale": stale},
            )
    # Validation included, as a user waiting on an epoch sees it (eval_seconds: its share).
    train_seconds = time.perf_counter() - t0
    if best_state is not None:
        model.load_state_dict(best_state)
    out, embeddings = best_outputs if best_outputs is not None else all_outputs()
    probs = torch.softmax(out[: mg.num_entities], dim=1).cpu()
    if embeddings is None:
        embeddings = model.embed(adj)
    embeddings = embeddings[: mg.num_entities].float().cpu()
    metrics: dict[str, float] = {
        "best_epoch": best_epoch,
        "epochs_run": len(curve),
        "train_seconds": train_seconds,
        "seconds_per_epoch": train_seconds / max(len(curve), 1),
        "eval_seconds": eval_seconds,
    }
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
    return NCResult(seed=seed, model=model, metrics=metrics, curve=curve, probabilities=probs, embeddings=embeddings)
