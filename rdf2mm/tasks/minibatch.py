"""Mini-batch training support shared by both tasks: when to use it, batches, inference.

Full-batch training runs the whole graph (every literal encoder on every literal) each
step; its memory grows with the graph. Mini-batch training runs each step on the sampled
neighbourhood of a batch of targets (:mod:`rdf2mm.graph.sampling`), with the literal
encoders applied only to the literals that neighbourhood holds. Outputs for every node
(evaluation, predictions, embeddings) come from the model's layer-wise inference
(:meth:`MRGCN.layerwise`, shared among workers by :func:`layerwise_inference`), which is
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
from rdf2mm.graph.sampling import NeighbourSampler
from rdf2mm.models.mrgcn import INFERENCE_CHUNK, MRGCN
from rdf2mm.models.rgcn import subgraph_adjacency
from rdf2mm.tasks.distributed import Workers


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


def layerwise_inference(
    model: MRGCN,
    sampler: NeighbourSampler,
    num_relations: int,
    device: torch.device,
    autocast: Callable[[], Any] = contextlib.nullcontext,
    workers: Workers | None = None,
    chunk: int = INFERENCE_CHUNK,
) -> tuple[Tensor, Tensor]:
    """:meth:`MRGCN.layerwise` shared among the ``workers`` (each computes its share of
    the chunks; the results are summed across them)."""
    workers = workers or Workers()
    return model.layerwise(sampler, num_relations, device, autocast, rank=workers.rank, world=workers.world,
                           all_reduce=workers.all_reduce, chunk=chunk)


def whole_graph_outputs(model: MRGCN, mg: MessageGraph, device: torch.device) -> tuple[Tensor, Tensor]:
    """:func:`layerwise_inference` on a message graph (for a trained model outside training;
    every in-edge is kept, so the sampler's sum weights would all be 1 and are not made)."""
    sampler = NeighbourSampler(mg.edge_index, mg.edge_type, mg.num_nodes, [None])
    return layerwise_inference(model, sampler, mg.num_relations, device)
