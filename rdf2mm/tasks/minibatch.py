"""Mini-batch training support shared by both tasks: when to use it, batches, inference.

Full-batch training runs the whole graph (every literal encoder on every literal) each
step; its memory grows with the graph. Mini-batch training runs each step on the sampled
neighbourhood of a batch of targets (:mod:`rdf2mm.graph.sampling`), with the literal
encoders applied only to the literals that neighbourhood holds. Outputs for every node
(evaluation, predictions, embeddings) come from :func:`layerwise_inference`, which is
exact: layer by layer over chunks of destination nodes, each with all its in-edges.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import Tensor

from rdf2mm.graph.message_graph import MessageGraph
from rdf2mm.graph.sampling import NeighbourSampler, Subgraph
from rdf2mm.models.mrgcn import MRGCN
from rdf2mm.models.rgcn import Norm, RelationalAdjacency
from rdf2mm.tasks.distributed import Workers

#: destination nodes per chunk of layer-wise inference
INFERENCE_CHUNK = 1 << 16


@dataclass
class Batching:
    """How a run trains: ``mode`` full or mini, and why."""

    mode: str
    reason: str
    batch_size: int = 512
    fanout: tuple[int | None, ...] = ()

    @property
    def mini(self) -> bool:
        return self.mode == "mini"

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {"batching": self.mode, "batching_reason": self.reason}
        if self.mini:
            out.update(batch_size=self.batch_size, fanout=[f or 0 for f in self.fanout])
        return out


def fanouts(values: list[int], layers: int) -> tuple[int | None, ...]:
    """Per-hop fanouts for ``layers`` hops (a short list repeats its last value; 0 is None)."""
    values = list(values) or [0]
    values = (values + [values[-1]] * layers)[:layers]
    return tuple(int(v) if int(v) > 0 else None for v in values)


def choose_batching(
    requested: str,
    estimated_full: int,
    available: int | None,
    fraction: float,
    workers: Workers,
    batch_size: int,
    fanout: list[int],
    layers: int,
) -> Batching:
    """Full or mini: as requested, else mini when several workers share the training or
    full-batch training would take more than ``fraction`` of the available memory."""
    fo = fanouts(fanout, layers)
    if requested == "full":
        if workers.active:
            # Data parallelism splits batches across workers; one full batch cannot be split.
            return Batching("mini", f"{workers.world} workers need mini-batches", batch_size, fo)
        return Batching("full", "asked for", batch_size, fo)
    if requested == "mini":
        return Batching("mini", "asked for", batch_size, fo)
    if workers.active:
        return Batching("mini", f"{workers.world} workers", batch_size, fo)
    gib = estimated_full / (1 << 30)
    if available is not None and estimated_full > fraction * available:
        why = f"full batch needs about {gib:.1f} GiB, over {fraction:.0%} of {available / (1 << 30):.1f} GiB available"
        return Batching("mini", why, batch_size, fo)
    return Batching("full", f"full batch fits (about {gib:.2f} GiB)", batch_size, fo)


def epoch_batches(items: np.ndarray, batch_size: int, rng: np.random.Generator, workers: Workers) -> Iterator[np.ndarray]:
    """This worker's batches of a shuffled ``items``; every worker gets the same number of
    batches (DDP steps in lock-step), each worker a disjoint share."""
    order = items[rng.permutation(len(items))]
    steps = max(1, -(-len(order) // (batch_size * workers.world)))
    share = order[workers.rank :: workers.world]
    for part in np.array_split(share, steps):
        yield part


def subgraph_adjacency(sub: Subgraph, num_relations: int, device: torch.device) -> RelationalAdjacency:
    """The sparse structure of a sampled subgraph, on ``device``, aggregating as its sampler
    does (for the sum with the sampler's weights, which scale kept edges up to the full
    in-degree)."""
    weight = None if sub.edge_weight is None else torch.from_numpy(sub.edge_weight)
    adj = RelationalAdjacency(torch.from_numpy(sub.edge_index), torch.from_numpy(sub.edge_type),
                              sub.num_nodes, num_relations, norm=sub.aggregation,  # type: ignore[arg-type]
                              edge_weight=weight)
    return adj.to(device)


def forward_batch(model: torch.nn.Module, sampler: NeighbourSampler, targets: np.ndarray, num_relations: int,
                  device: torch.device, rng: np.random.Generator) -> Tensor:
    """Model outputs ``[len(targets), out]`` from the targets' sampled neighbourhood.

    ``model`` is an :class:`MRGCN` or a DDP wrapper of one (called, so DDP syncs gradients).
    """
    sub = sampler.sample(targets, rng)
    adj = subgraph_adjacency(sub, num_relations, device)
    nodes = torch.from_numpy(sub.nodes)
    if device.type == "cuda":
        nodes = nodes.pin_memory()  # so that the copy below really is asynchronous
    out = model(adj, nodes=nodes.to(device, non_blocking=True))
    return out[: sub.num_targets]


@torch.no_grad()
def layerwise_inference(
    model: MRGCN,
    sampler: NeighbourSampler,
    num_relations: int,
    device: torch.device,
    autocast: Callable[[], Any] = contextlib.nullcontext,
    workers: Workers | None = None,
    chunk: int = INFERENCE_CHUNK,
) -> tuple[Tensor, Tensor]:
    """Exact outputs and embeddings (the representation before the output layer, as
    :meth:`MRGCN.embed`) of every node, in memory bounded by ``chunk``; on CPU, float32.

    With several workers each computes every ``world``-th chunk and the results are
    summed across workers (rows not computed are zero), so all end with the full result.
    """
    workers = workers or Workers()
    model.eval()
    n = sampler.num_nodes
    starts = list(range(0, n, chunk))[workers.rank :: workers.world]
    h = torch.zeros(n, model.features.dim)
    with autocast():
        for s in starts:
            ids = torch.arange(s, min(s + chunk, n), device=device)
            h[s : s + len(ids)] = model.features(ids).float().cpu()
    workers.all_reduce(h)
    embeddings = h
    last = len(model.layers) - 1
    for i, layer in enumerate(model.layers):
        out = torch.zeros(n, layer.out_dim)
        for s in starts:
            targets = np.arange(s, min(s + chunk, n), dtype=np.int64)
            sub = sampler.sample(targets, fanouts=(None,))
            adj = subgraph_adjacency(sub, num_relations, device)
            with autocast():
                y = layer(h[torch.from_numpy(sub.nodes)].to(device), adj)[: len(targets)]
            out[s : s + len(targets)] = y.float().cpu()
        workers.all_reduce(out)
        if i < last:
            out = torch.relu(out)
            embeddings = out
        h = out
    return h, embeddings


def whole_graph_outputs(model: MRGCN, mg: MessageGraph, device: torch.device,
                        aggregation: Norm = "mean") -> tuple[Tensor, Tensor]:
    """:func:`layerwise_inference` on a message graph (for a trained model outside training)."""
    sampler = NeighbourSampler(mg.edge_index, mg.edge_type, mg.num_nodes, [None], aggregation)
    return layerwise_inference(model, sampler, mg.num_relations, device)
