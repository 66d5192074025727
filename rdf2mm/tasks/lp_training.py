"""Link-prediction training on the training loop: losses, filtered ranking, the task.

Training uses binary cross-entropy either on sampled corruptions (``negatives=k``: head
or tail replaced uniformly, as in the MR-GCN paper) or on every entity at once
(``negatives=0``, "1-N" scoring, both directions). Early stopping watches the validation
filtered MRR; the test split is ranked once, with the best weights, under the protocol of
:mod:`rdf2mm.tasks.evaluation`.

``settings`` below are link prediction's (``LPSettings``: the encoder settings plus
``decoder``, ``negatives``, ``batch_size``, ``eval_every``, ``eval_memory_mb``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Unpack

import numpy as np
import torch
from torch import Tensor

from rdf2mm.errors import InputError
from rdf2mm.graph.sampling import NeighbourSampler
from rdf2mm.models.decoders import Decoder, make_decoder
from rdf2mm.models.kge import PlainKGE
from rdf2mm.models.link_predictor import LinkPredictor
from rdf2mm.models.registry import LITERAL_KGE_MODELS, MODELS, PLAIN_KGE_MODELS
from rdf2mm.tasks.evaluation import FilterIndex, TripleRanks, rank_triples
from rdf2mm.tasks.lp_losses import Corruptor, bce_negative_sampling, bce_negative_sampling_minibatch, bce_one_to_n
from rdf2mm.tasks.lp_splits import LinkSplits
from rdf2mm.tasks.minibatch import Batching, epoch_batches, layerwise_inference
from rdf2mm.tasks.settings import LPSettings, resolve_negatives
from rdf2mm.training.loop import LoopOptions, TrainingLoop, amp_autocast

if TYPE_CHECKING:
    from rdf2mm.models.rgcn import RelationalAdjacency
    from rdf2mm.tasks.inputs import PreparedInputs

#: the permutation seed of the literal KGE models' shuffled-literal control when the inputs
#: carry none; a run's inputs carry its --seed (as MR-GCN's), and a saved run is rebuilt
#: with the same, so it gets the features it was trained on
SHUFFLE_SEED = 0


def build_model(inputs: PreparedInputs, s: LPSettings) -> LinkPredictor | PlainKGE | torch.nn.Module:
    """A fresh encoder (see :func:`~rdf2mm.tasks.inputs.build_encoder`) and ``s.decoder``;
    for a plain KGE ``s.model``, its entity table (``s.embed_dim`` wide) and decoder alone;
    for a literal KGE ``s.model`` (``LITERAL_KGE_MODELS``), the model its ``from_features``
    builds on the entity features of ``inputs`` (computed once per inputs, deterministically,
    so a reloaded run gets the same ones)."""
    from rdf2mm.tasks.inputs import build_encoder  # noqa: PLC0415 - heavy modality imports

    if s.model in PLAIN_KGE_MODELS:
        model: PlainKGE = MODELS.make(s.model, inputs.kg.num_entities, inputs.kg.num_relations, s.embed_dim)
        return model
    if s.model in LITERAL_KGE_MODELS:
        from rdf2mm.encoding.entity_features import entity_features  # noqa: PLC0415 - encoders load on demand

        # the run's shuffle seed (its --seed), the one MR-GCN's literal nodes are shuffled with
        shuffle = (inputs.shuffle_seed if inputs.shuffle_seed is not None else SHUFFLE_SEED) \
            if s.shuffle_literals else None
        features = entity_features(inputs, modalities=tuple(inputs.modalities), shuffle_seed=shuffle)
        literal_model: torch.nn.Module = MODELS.get(s.model).from_features(
            features, inputs.kg.num_entities, inputs.kg.num_relations, s)
        return literal_model
    encoder = build_encoder(inputs, s, out_dim=s.hidden)
    decoder = make_decoder(s.decoder, inputs.kg.num_relations, s.hidden)
    return LinkPredictor(encoder, decoder, inputs.mg.num_entities)


@dataclass
class LPResult:
    """One seed's trained model, metrics, curve and test ranks."""

    seed: int
    model: LinkPredictor | PlainKGE
    metrics: dict[str, float]
    curve: list[dict[str, float]] = field(default_factory=list)
    test_ranks: TripleRanks | None = None
    valid_ranks: TripleRanks | None = None
    #: entity embeddings the decoder scores, [E, d] (CPU, best weights)
    embeddings: Tensor | None = None


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


class LinkPredictorTraining(TrainingLoop[LPResult]):
    """Link prediction on the training loop: BCE on corruptions or 1-N, validation MRR
    watched for early stopping. Its own RNG (corruptions and the epoch's shuffle) is a
    ``torch.Generator`` seeded with the seed, checkpointed as ``sampler_rng``."""

    def __init__(self, inputs: PreparedInputs, splits: LinkSplits, settings: LPSettings, seed: int,
                 device: torch.device, filter_index: FilterIndex | None = None,
                 batching: Batching | None = None, **loop: Any) -> None:
        mini = batching is not None and batching.mini
        super().__init__(settings, seed, device, eval_every=settings.eval_every,
                         has_validation=len(splits.valid) > 0, mini=mini, **loop)
        self.inputs, self.splits, self.batching = inputs, splits, batching
        self.filter_index = filter_index
        self.negatives, self.negatives_reason = resolve_negatives(
            settings.negatives, len(splits.train), inputs.kg.num_entities, mini)
        self.budget = settings.eval_memory_mb * 2**20

    def build(self) -> LinkPredictor | PlainKGE:
        inputs, splits, device = self.inputs, self.splits, self.device
        self.gen = torch.Generator().manual_seed(self.seed)
        kg = inputs.kg
        self.E, R = kg.num_entities, kg.num_relations
        if self.filter_index is None:
            self.filter_index = FilterIndex.build(splits.known(), R)
        self.train_index = FilterIndex.build(splits.train, R)
        model = build_model(inputs, self.settings).to(device)
        mg = inputs.mg
        self.sampler = NeighbourSampler(mg.edge_index, mg.edge_type, mg.num_nodes, list(self.batching.fanout),
                                        self.settings.aggregation) if self.mini and self.batching else None
        self.adj = None if self.mini else inputs.adjacency(device)
        self.train = np.asarray(splits.train, dtype=np.int64)
        self.train_t = torch.as_tensor(self.train, device=device)
        self.batch_size = self.settings.batch_size
        self.corrupt = Corruptor(self.negatives, self.E, self.gen)
        return model

    def entity_embeddings(self) -> Tensor:
        """Every entity's embedding, in eval mode."""
        self.model.eval()
        if self.sampler is not None:
            out, _ = layerwise_inference(self.model.encoder, self.sampler, self.inputs.mg.num_relations,
                                         self.device, self.autocast, self.workers)
            return out[: self.E].to(self.device)
        with torch.no_grad(), self.autocast():
            return self.model(self.adj).float()

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        n, bs = len(self.train), self.batch_size
        # Drawn every epoch, mini-batch too: the generator's stream (corruptions) depends on it.
        perm = torch.randperm(n, generator=self.gen).numpy()
        if not self.mini:
            return [perm[s:s + bs] for s in range(0, n, bs)]
        # Same shuffle on every worker, each its own share; neighbourhood sampling seeded
        # by (seed, epoch, worker) so a resumed run draws the same ones.
        self.rng = np.random.default_rng([self.seed, epoch, self.workers.rank])
        return list(epoch_batches(np.arange(n), bs, np.random.default_rng([self.seed, epoch]), self.workers))

    def batch_loss(self, idx: np.ndarray) -> tuple[Tensor, Tensor]:
        model, k = self.model, self.negatives
        if self.mini:
            assert self.sampler is not None
            with self.autocast():
                loss = bce_negative_sampling_minibatch(
                    self.net, model.decoder, torch.as_tensor(self.train[idx]), self.corrupt,
                    self.sampler, self.inputs.mg.num_relations, self.device, self.rng,
                )
        else:
            with self.autocast():
                emb = model(self.adj)
            emb = emb.float()
            if k == 0:
                loss = bce_one_to_n(emb, model.decoder, self.train[idx], self.train_index)
            else:
                loss = bce_negative_sampling(
                    emb, model.decoder, self.train_t[torch.as_tensor(idx, device=self.device)], self.corrupt
                )
        extra = getattr(model, "extra_loss", None)
        if extra is not None:
            # a model's own term on this step's forward (MoMoK's CLUB bound between experts)
            loss = loss + extra()
        return loss, loss.detach().float().reshape(1)

    def epoch_figures(self, sums: Tensor, steps: int) -> dict[str, float]:
        return {"train_loss": float(sums[0]) / self.workers.world / max(steps, 1)}

    def validate(self, epoch: int) -> tuple[float, dict[str, float]]:
        emb = self.entity_embeddings()
        with torch.no_grad(), self.autocast():
            ranks = rank_with_embeddings(emb, self.model.decoder, self.splits.valid, self.filter_index, self.budget)
        fields = {f"valid_{k}": v for k, v in ranks.metrics().items()}
        return fields["valid_mrr"], fields

    def train_key(self, record: dict[str, float]) -> float:
        return -record["train_loss"]

    def rng_state(self) -> dict[str, Tensor]:
        return {"sampler_rng": self.gen.get_state()}

    def restore_rng(self, extra: dict[str, Tensor]) -> None:
        state = extra.get("sampler_rng")
        if state is None or state.dtype != torch.uint8 or state.shape != self.gen.get_state().shape:
            where = self.checkpoint.folder if self.checkpoint else "checkpoint"
            raise InputError(f"{where}: damaged checkpoint: no valid sampler state for seed {self.seed}")
        self.gen.set_state(state)

    def finish(self, metrics: dict[str, float], curve: list[dict[str, float]]) -> LPResult:
        metrics["negatives"] = self.negatives
        assert self.filter_index is not None
        fit = getattr(self.model, "fit_ensemble", None)
        if fit is not None and len(self.splits.valid):
            # A multi-score model's inference weights (MoSE --ensemble fitted), fitted on the
            # validation split with the best weights loaded: the parts' scores are computed
            # once and only the weights are fitted, so no second training loop runs. They are
            # buffers of the model: the run directory and a resumed seed keep them.
            metrics.update(fit(self.entity_embeddings(), self.splits.valid, self.filter_index, self.budget,
                               self.seed))
        return rank_splits(self.model, self.adj, self.splits, self.filter_index, self.settings, self.seed,
                           metrics, curve, self.device, embeddings=self.entity_embeddings() if self.mini else None)


def train_link_predictor(
    inputs: PreparedInputs, splits: LinkSplits, settings: LPSettings, seed: int, device: torch.device,
    filter_index: FilterIndex | None = None, batching: Batching | None = None, **loop: Unpack[LoopOptions],
) -> LPResult:
    """Train one model with one seed (``settings``: an ``LPSettings``); returns it with its
    best-validation weights.

    Full batch (the encoder runs on the whole graph every step) unless ``batching`` says
    mini: then each step embeds only the entities its triples and corruptions use, from
    their sampled neighbourhoods (negative sampling: 1-N scoring needs every entity, so
    ``negatives=0`` becomes :data:`MINI_BATCH_NEGATIVES`), and evaluation embeds every
    entity by exact layer-wise inference. Several ``workers`` split the batches (DDP).
    Timing and early stopping follow :mod:`rdf2mm.training.loop`.

    With ``checkpoint``, the state (model, optimiser, the CPU, CUDA and sampler RNGs, best
    weights, counters) is saved every ``checkpoint.every`` epochs and resumed from when present.
    Progress goes to ``on_event`` as typed events.
    """
    return LinkPredictorTraining(inputs, splits, settings, seed, device, filter_index, batching, **loop).run()


def rank_splits(
    model: LinkPredictor | PlainKGE, adj: RelationalAdjacency | None, splits: LinkSplits, filter_index: FilterIndex,
    settings: LPSettings, seed: int, metrics: dict[str, float], curve: list[dict[str, float]],
    device: torch.device, embeddings: Tensor | None = None,
) -> LPResult:
    """Rank valid and test triples with a trained model (or its precomputed entity
    ``embeddings``); completes ``metrics`` with their figures (untimed)."""
    model.eval()
    autocast = amp_autocast(settings, device)
    budget = settings.eval_memory_mb * 2**20
    with torch.no_grad(), autocast():
        emb = model(adj).float() if embeddings is None else embeddings
        valid_ranks = rank_with_embeddings(emb, model.decoder, splits.valid, filter_index, budget) \
            if len(splits.valid) else None
        test_ranks = rank_with_embeddings(emb, model.decoder, splits.test, filter_index, budget) \
            if len(splits.test) else None
    if valid_ranks is not None:
        metrics.update(valid_ranks.metrics("valid_"))
    if test_ranks is not None:
        metrics.update(test_ranks.metrics("test_"))
    return LPResult(seed, model, metrics, curve, test_ranks, valid_ranks, emb.detach().cpu())


def evaluate_link_predictor(
    model: LinkPredictor | PlainKGE, adj: RelationalAdjacency | None, splits: LinkSplits, filter_index: FilterIndex,
    settings: LPSettings, seed: int, metrics: dict[str, float], curve: list[dict[str, float]],
    device: torch.device, embeddings: Tensor | None = None,
) -> LPResult:
    """:func:`rank_splits`, its time added to ``metrics["eval_seconds"]`` (a finished seed
    read back from a checkpoint is evaluated again this way)."""
    metrics.setdefault("eval_seconds", 0.0)
    t = time.perf_counter()
    result = rank_splits(model, adj, splits, filter_index, settings, seed, metrics, curve, device, embeddings)
    metrics["eval_seconds"] = float(metrics.get("eval_seconds", 0.0)) + time.perf_counter() - t
    return result
