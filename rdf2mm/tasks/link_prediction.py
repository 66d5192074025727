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

import contextlib
import datetime as dt
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rdf2mm.checkpoint import TrainingCheckpoint, restore_optimizer
from rdf2mm.config import TrainConfig
from rdf2mm.errors import InputError, UsageError
from rdf2mm.models.decoders import Decoder, make_decoder
from rdf2mm.runs.link_prediction import write_lp_run
from rdf2mm.runs.result import RunResult
from rdf2mm.tasks.evaluation import (
    TripleRanks,
    TrueIndex,
    filtered_candidate_counts,
    random_mrr,
    rank_triples,
)
from rdf2mm.tasks.lp_splits import LinkSplits, auto_split, splits_from_files
from rdf2mm.graph.sampling import NeighbourSampler
from rdf2mm.tasks.distributed import Workers
from rdf2mm.tasks.minibatch import Batching, epoch_batches, forward_batch, layerwise_inference
from rdf2mm.tasks.settings import LPSettings

if TYPE_CHECKING:
    from rdf2mm.models.mrgcn import MRGCN
    from rdf2mm.models.rgcn import RelationalAdjacency
    from rdf2mm.tasks.inputs import PreparedInputs

Progress = Callable[[str, dict[str, Any]], None]
EpochCallback = Callable[[int, dict[str, float]], None]

#: 1-N scoring holds a [batch, entities] matrix (plus gradients): cap its cells
ONE_TO_N_CELLS = 2**24
#: corruptions per positive in mini-batch mode when none were asked for (1-N needs every entity)
MINI_BATCH_NEGATIVES = 16


class LinkPredictor(nn.Module):
    """MR-GCN encoder + decoder; ``forward`` returns the entity embeddings ``[E, d]``."""

    def __init__(self, encoder: MRGCN, decoder: Decoder, num_entities: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.num_entities = num_entities

    def forward(self, adj: RelationalAdjacency, nodes: Tensor | None = None) -> Tensor:
        """Entity embeddings ``[E, d]``; with ``nodes`` (a mini-batch subgraph, entities
        first) the outputs of every local node."""
        if nodes is not None:
            return self.encoder(adj, nodes=nodes)
        return self.encoder(adj)[: self.num_entities]


def build_model(inputs: PreparedInputs, s: LPSettings) -> LinkPredictor:
    from rdf2mm.tasks.inputs import build_encoder  # noqa: PLC0415 - heavy modality imports

    encoder = build_encoder(inputs, s, out_dim=s.hidden)
    decoder = make_decoder(s.decoder, inputs.kg.num_relations, s.hidden)
    return LinkPredictor(encoder, decoder, inputs.mg.num_entities)


@dataclass
class LPResult:
    """One seed's trained model, metrics, curve and test ranks."""

    seed: int
    model: LinkPredictor
    metrics: dict[str, float]
    curve: list[dict[str, float]] = field(default_factory=list)
    test_ranks: TripleRanks | None = None
    valid_ranks: TripleRanks | None = None
    #: entity embeddings the decoder scores, [E, d] (CPU, best weights)
    embeddings: Tensor | None = None


@dataclass
class FilterIndex:
    """Known true triples as (h, r) -> tails and (r, t) -> heads, built once per dataset."""

    tails: TrueIndex
    heads: TrueIndex

    @classmethod
    def build(cls, known: np.ndarray, num_relations: int) -> FilterIndex:
        return cls(TrueIndex.build(known, "tail", num_relations), TrueIndex.build(known, "head", num_relations))


def rank_with_embeddings(
    emb: Tensor, decoder: Decoder, triples: np.ndarray, index: FilterIndex | None, memory_budget: int
) -> TripleRanks:
    """Rank ``triples`` both ways against every entity, given the entity embeddings."""
    E = emb.shape[0]
    dev = emb.device

    def tails(h: Tensor, r: Tensor, s: int, e: int) -> Tensor:
        return decoder.score_all_tails(emb[h], r, emb[s:e]).float()

    def heads(t: Tensor, r: Tensor, s: int, e: int) -> Tensor:
        return decoder.score_all_heads(emb[t], r, emb[s:e]).float()

    return rank_triples(
        triples, E, tails, heads,
        index.tails if index else None, index.heads if index else None,
        device=dev, memory_budget=memory_budget,
    )


def _corrupt(batch: Tensor, k: int, num_entities: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """The positives followed by ``k`` corruptions each (head or tail replaced uniformly),
    and their 1/0 labels."""
    B = batch.shape[0]
    dev = batch.device
    neg = batch.repeat_interleave(k, dim=0).clone()
    corrupt_head = torch.rand(B * k, generator=gen, device="cpu").to(dev) < 0.5
    repl = torch.randint(num_entities, (B * k,), generator=gen, device="cpu").to(dev)
    neg[:, 0] = torch.where(corrupt_head, repl, neg[:, 0])
    neg[:, 2] = torch.where(corrupt_head, neg[:, 2], repl)
    labels = torch.cat([torch.ones(B, device=dev), torch.zeros(B * k, device=dev)])
    return torch.cat([batch, neg]), labels


def _bce_negative_sampling(
    emb: Tensor, decoder: Decoder, batch: Tensor, k: int, num_entities: int, gen: torch.Generator
) -> Tensor:
    """BCE on the positives and ``k`` corruptions each (head or tail, uniformly)."""
    both, labels = _corrupt(batch, k, num_entities, gen)
    logits = decoder.score(emb[both[:, 0]], both[:, 1], emb[both[:, 2]]).float()
    return F.binary_cross_entropy_with_logits(logits, labels)


def _bce_negative_sampling_minibatch(
    net: nn.Module, decoder: Decoder, batch: Tensor, k: int, num_entities: int, gen: torch.Generator,
    sampler: NeighbourSampler, num_relations: int, device: torch.device, rng: np.random.Generator,
) -> Tensor:
    """As :func:`_bce_negative_sampling`, with embeddings of only the entities the
    positives and corruptions use, from their sampled neighbourhoods."""
    # ``batch`` is on the CPU: sampling happens there, and nothing waits on the device.
    both, labels = _corrupt(batch, k, num_entities, gen)
    entities, local = np.unique(both[:, [0, 2]].numpy(), return_inverse=True)
    emb = forward_batch(net, sampler, entities, num_relations, device, rng).float()
    local_t = torch.as_tensor(local.reshape(-1, 2)).to(device, non_blocking=True)
    rel = both[:, 1].to(device, non_blocking=True)
    logits = decoder.score(emb[local_t[:, 0]], rel, emb[local_t[:, 1]]).float()
    return F.binary_cross_entropy_with_logits(logits, labels.to(device, non_blocking=True))


def _bce_one_to_n(emb: Tensor, decoder: Decoder, batch: np.ndarray, index: FilterIndex) -> Tensor:
    """BCE of every entity as tail of (h, r, ?) and as head of (?, r, t): 1 for known answers."""
    dev = emb.device
    E = emb.shape[0]
    h = torch.as_tensor(batch[:, 0], device=dev)
    r = torch.as_tensor(batch[:, 1], device=dev)
    t = torch.as_tensor(batch[:, 2], device=dev)
    losses = []
    for scores, (rows, answers) in (
        (decoder.score_all_tails(emb[h], r, emb), index.tails.lookup(batch[:, 0], batch[:, 1])),
        (decoder.score_all_heads(emb[t], r, emb), index.heads.lookup(batch[:, 2], batch[:, 1])),
    ):
        target = torch.zeros(len(batch), E, device=dev)
        target[torch.as_tensor(rows, device=dev), torch.as_tensor(answers, device=dev)] = 1.0
        losses.append(F.binary_cross_entropy_with_logits(scores.float(), target))
    return (losses[0] + losses[1]) / 2


def train_link_predictor(
    inputs: PreparedInputs,
    splits: LinkSplits,
    settings: LPSettings,
    seed: int,
    device: torch.device,
    filter_index: FilterIndex | None = None,
    on_epoch: EpochCallback | None = None,
    checkpoint: TrainingCheckpoint | None = None,
    batching: Batching | None = None,
    workers: Workers | None = None,
    on_step: Callable[[int, int, int], None] | None = None,
) -> LPResult:
    """Train one model with one seed; returns it with its best-validation weights.

    Full batch (the encoder runs on the whole graph every step) unless ``batching`` says
    mini: then each step embeds only the entities its triples and corruptions use, from
    their sampled neighbourhoods (negative sampling: 1-N scoring needs every entity, so
    ``negatives=0`` becomes :data:`MINI_BATCH_NEGATIVES`), and evaluation embeds every
    entity by exact layer-wise inference. Several ``workers`` split the batches (DDP).

    With ``checkpoint``, the state (model, optimiser, both RNGs, best weights, counters)
    is saved every ``checkpoint.every`` epochs and resumed from when present.
    """
    from rdf2mm.tasks.inputs import seed_everything  # noqa: PLC0415

    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    kg = inputs.kg
    E, R = kg.num_entities, kg.num_relations
    if filter_index is None:
        filter_index = FilterIndex.build(splits.known(), R)
    train_index = FilterIndex.build(splits.train, R)
    workers = workers or Workers()
    mini = batching is not None and batching.mini
    model = build_model(inputs, settings).to(device)
    mg = inputs.mg
    sampler = NeighbourSampler(mg.edge_index, mg.edge_type, mg.num_nodes, list(batching.fanout),
                               inputs.aggregation) if mini else None
    adj = None if mini else inputs.adjacency(device)
    net = workers.wrap(model, device) if mini else model
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    use_amp = settings.amp and device.type == "cuda"
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_amp else contextlib.nullcontext
    budget = settings.eval_memory_mb * 2**20
    train = np.asarray(splits.train, dtype=np.int64)
    train_t = torch.as_tensor(train, device=device)
    negatives = settings.negatives or (MINI_BATCH_NEGATIVES if mini else 0)
    one_to_n = negatives == 0

    def entity_embeddings() -> Tensor:
        """Every entity's embedding, in eval mode."""
        model.eval()
        if sampler is not None:
            out, _ = layerwise_inference(model.encoder, sampler, mg.num_relations, device, autocast, workers)
            return out[:E].to(device)
        with torch.no_grad(), autocast():
            return model(adj).float()
    batch_size = settings.batch_size
    if one_to_n:
        batch_size = max(1, min(batch_size, ONE_TO_N_CELLS // max(E, 1)))
    has_valid = len(splits.valid) > 0

    best_state: dict[str, Tensor] | None = None
    best_key = -math.inf
    best_epoch = 0
    stale = 0
    curve: list[dict[str, float]] = []
    start = 1
    saved = checkpoint.load_progress(seed, model, settings.epochs) if checkpoint else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        restore_optimizer(opt, saved["opt_tensors"], saved["optimizer"])
        best_state = saved["best"]
        c = saved["counters"]
        best_key, best_epoch, stale = c["best_key"], c["best_epoch"], c["stale"]
        curve = saved["curve"]
        start = saved["epoch"] + 1
        torch.set_rng_state(saved["rng_torch"])
        sampler_rng = saved["extra"].get("sampler_rng")
        if sampler_rng is None or sampler_rng.dtype != torch.uint8 or sampler_rng.shape != gen.get_state().shape:
            raise InputError(f"{checkpoint.folder}: damaged checkpoint: no valid sampler state for seed {seed}")
        gen.set_state(sampler_rng)
    t0 = time.perf_counter()
    eval_seconds = 0.0
    for epoch in range(start, settings.epochs + 1):
        model.train()
        perm = torch.randperm(len(train), generator=gen).numpy()
        total: Tensor | float = 0.0
        steps = 0
        if mini:
            # Same shuffle on every worker, each its own share; neighbourhood sampling
            # seeded by (seed, epoch, worker) so a resumed run draws the same ones.
            rng = np.random.default_rng([seed, epoch, workers.rank])
            shares = epoch_batches(np.arange(len(train)), batch_size, np.random.default_rng([seed, epoch]), workers)
            batches = list(shares)
        else:
            batches = [perm[s:s + batch_size] for s in range(0, len(train), batch_size)]
        for step_no, idx in enumerate(batches, 1):
            if on_step and mini:
                on_step(epoch, step_no, len(batches))
            opt.zero_grad(set_to_none=True)
            if mini:
                assert sampler is not None
                with autocast():
                    loss = _bce_negative_sampling_minibatch(
                        net, model.decoder, torch.as_tensor(train[idx]), negatives, E, gen,
                        sampler, mg.num_relations, device, rng,
                    )
            else:
                with autocast():
                    emb = model(adj)
                emb = emb.float()
                if one_to_n:
                    loss = _bce_one_to_n(emb, model.decoder, train[idx], train_index)
                else:
                    loss = _bce_negative_sampling(
                        emb, model.decoder, train_t[torch.as_tensor(idx, device=device)], negatives, E, gen
                    )
            loss.backward()
            if settings.clip and settings.clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip)
            opt.step()
            total = total + loss.detach().float()  # stays on the device: no host sync per step
            steps += 1
        total_t = torch.as_tensor(total, dtype=torch.float32, device=device).reshape(1)
        mean_loss = float(workers.all_reduce(total_t)[0]) / workers.world / max(steps, 1)
        record: dict[str, float] = {"epoch": epoch, "seed": seed, "train_loss": mean_loss}
        settings.check_loss(mean_loss, seed, epoch)
        evaluate_now = has_valid and (epoch % settings.eval_every == 0 or epoch == settings.epochs)
        if evaluate_now:
            te = time.perf_counter()
            emb = entity_embeddings()
            with torch.no_grad(), autocast():
                ranks = rank_with_embeddings(emb, model.decoder, splits.valid, filter_index, budget)
            eval_seconds += time.perf_counter() - te
            record.update({f"valid_{k}": v for k, v in ranks.metrics().items()})
            key = record["valid_mrr"]
        elif has_valid:
            key = None
        else:
            key = -record["train_loss"]
        curve.append(record)
        if on_epoch:
            on_epoch(epoch, record)
        if key is not None:
            if key > best_key:
                best_key, best_epoch, stale = key, epoch, 0
                # A real copy: a state_dict holds references to the live tensors.
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += settings.eval_every if has_valid else 1
                if stale >= settings.patience:
                    break
        if checkpoint and checkpoint.every and epoch % checkpoint.every == 0 and epoch < settings.epochs:
            checkpoint.save_progress(
                seed, epoch=epoch, model=model, opt=opt, best_state=best_state, curve=curve,
                counters={"best_key": best_key, "best_epoch": best_epoch, "stale": stale},
                extra={"sampler_rng": gen.get_state()},
            )
    train_seconds = time.perf_counter() - t0 - eval_seconds
    if best_state is not None:
        model.load_state_dict(best_state)
    metrics: dict[str, float] = {
        "best_epoch": best_epoch,
        "epochs_run": len(curve),
        "train_seconds": train_seconds,
        "seconds_per_epoch": train_seconds / max(len(curve), 1),
        "eval_seconds": eval_seconds,
    }
    if mini:
        metrics["negatives"] = negatives
    return evaluate_link_predictor(model, adj, splits, filter_index, settings, seed, metrics, curve, device,
                                   embeddings=entity_embeddings() if mini else None)


def evaluate_link_predictor(
    model: LinkPredictor, adj: RelationalAdjacency | None, splits: LinkSplits, filter_index: FilterIndex,
    settings: LPSettings, seed: int, metrics: dict[str, float], curve: list[dict[str, float]], device: torch.device,
    embeddings: Tensor | None = None,
) -> LPResult:
    """Rank valid and test triples with a trained model (or its precomputed entity
    ``embeddings``); completes ``metrics``."""
    model.eval()
    use_amp = settings.amp and device.type == "cuda"
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_amp else contextlib.nullcontext
    budget = settings.eval_memory_mb * 2**20
    has_valid = len(splits.valid) > 0
    eval_seconds = float(metrics.get("eval_seconds", 0.0))
    te = time.perf_counter()
    with torch.no_grad(), autocast():
        emb = model(adj).float() if embeddings is None else embeddings
        valid_ranks = rank_with_embeddings(emb, model.decoder, splits.valid, filter_index, budget) if has_valid else None
        test_ranks = rank_with_embeddings(emb, model.decoder, splits.test, filter_index, budget) if len(splits.test) else None
    metrics["eval_seconds"] = eval_seconds + time.perf_counter() - te
    if valid_ranks is not None:
        metrics.update(valid_ranks.metrics("valid_"))
    if test_ranks is not None:
        metrics.update(test_ranks.metrics("test_"))
    return LPResult(seed, model, metrics, curve, test_ranks, valid_ranks, emb.detach().cpu())


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
        aggregation=cfg.aggregation,
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
            on_epoch=lambda epoch, rec: note("epoch", rec), checkpoint=ckpt, batching=batching, workers=workers,
            on_step=lambda epoch, step, steps: note("step", {"epoch": epoch, "step": step, "steps": steps}),
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
