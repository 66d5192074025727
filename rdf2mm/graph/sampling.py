"""Neighbourhood sampling over a message graph, for mini-batch training and inference.

An L-layer R-GCN's output at a node depends only on the node's L-hop in-neighbourhood.
:class:`NeighbourSampler` cuts that neighbourhood out for a batch of target nodes: hop 1
takes the in-edges of the targets, hop 2 the in-edges of the nodes hop 1 reached, and so
on; a node is expanded once. With ``fanouts`` of ``None`` every in-edge is taken and the
model's outputs at the targets equal its full-graph outputs exactly (mean normalisation
included, since an expanded node keeps all its in-edges). With a fanout ``k`` a node with
more than ``k`` in-edges keeps ``k`` of them drawn uniformly with replacement (O(k) even
for a hub with millions of edges; repeats are dropped), and the R-GCN's per-relation mean
becomes an estimate of the full mean. For sum aggregation each kept edge carries the weight
``degree / kept`` of its destination (1 where nothing was dropped), which makes the sampled
sum an unbiased estimate of the full one: the kept edges are a uniform subset.

Nodes are renumbered per batch: the targets come first, in the order given.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rdf2mm.config import AGGREGATIONS


@dataclass
class Subgraph:
    """A batch's computation graph in local node numbers."""

    #: global node id of each local node; the first ``num_targets`` are the targets
    nodes: np.ndarray
    #: [2, M] local source -> destination, and each edge's relation
    edge_index: np.ndarray
    edge_type: np.ndarray
    num_targets: int
    #: for a sampler weighing for the sum: [M] in-degree / kept in-edges of each edge's
    #: destination (float32; 1 when exact); None for the mean, which a uniform subset of
    #: in-edges already estimates
    edge_weight: np.ndarray | None = None

    @property
    def num_nodes(self) -> int:
        return int(len(self.nodes))


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + l)`` for each pair, vectorised."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) - np.repeat(offsets - starts, lengths)


class NeighbourSampler:
    """Samples L-hop in-neighbourhoods (see the module docstring).

    ``fanouts[i]`` bounds the in-edges kept per node at hop ``i + 1`` (hop 1 is next to
    the targets); ``None`` keeps them all. ``aggr`` is the aggregation of the model the
    subgraphs feed: only the sum needs (and gets) edge weights.
    """

    def __init__(self, edge_index: np.ndarray, edge_type: np.ndarray, num_nodes: int,
                 fanouts: list[int | None], aggr: str = "mean") -> None:
        src = np.asarray(edge_index[0], dtype=np.int64)
        dst = np.asarray(edge_index[1], dtype=np.int64)
        order = np.argsort(dst, kind="stable")
        self.src = src[order]
        self.typ = np.asarray(edge_type, dtype=np.int64)[order]
        self.indptr = np.zeros(num_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(dst, minlength=num_nodes), out=self.indptr[1:])
        self.num_nodes = int(num_nodes)
        self.fanouts = list(fanouts)
        if aggr not in AGGREGATIONS:
            raise ValueError(f"aggr must be mean or sum, not {aggr!r}")
        self.aggr = aggr
        if any(f is not None and f < 1 for f in self.fanouts):
            raise ValueError("fanouts must be positive (or None for every neighbour)")
        # Scratch: local id of each global node during one sample() call (-1: not in it).
        self._local = np.full(num_nodes, -1, dtype=np.int64)
        self._expanded = np.zeros(num_nodes, dtype=bool)

    def in_edges(self, nodes: np.ndarray, fanout: int | None = None,
                 rng: np.random.Generator | None = None) -> np.ndarray:
        """Positions (into the sorted edge arrays) of the in-edges of ``nodes``, at most
        ``fanout`` distinct ones per node."""
        starts = self.indptr[nodes]
        degree = self.indptr[nodes + 1] - starts
        if fanout is None or len(degree) == 0 or int(degree.max()) <= fanout:
            return _ranges(starts, degree)
        small = degree <= fanout
        whole = _ranges(starts[small], degree[small])
        big_starts, big_degree = starts[~small], degree[~small]
        rng = rng or np.random.default_rng()
        draws = (rng.random((len(big_starts), fanout)) * big_degree[:, None]).astype(np.int64)
        picked = np.unique((draws + big_starts[:, None]).ravel())
        return np.concatenate([whole, picked])

    def sample(self, targets: np.ndarray, rng: np.random.Generator | None = None,
               fanouts: tuple[int | None, ...] | list[int | None] | None = None) -> Subgraph:
        """The computation graph of ``targets`` (distinct global node ids); ``fanouts``
        overrides the sampler's own (one entry per hop)."""
        targets = np.asarray(targets, dtype=np.int64)
        local, expanded = self._local, self._expanded
        nodes = [targets]
        local[targets] = np.arange(len(targets))
        count = len(targets)
        frontier = targets
        picked: list[np.ndarray] = []
        try:
            for fanout in self.fanouts if fanouts is None else fanouts:
                frontier = frontier[~expanded[frontier]]
                if len(frontier) == 0:
                    break
                expanded[frontier] = True
                pos = self.in_edges(frontier, fanout, rng)
                picked.append(pos)
                sources = np.unique(self.src[pos])
                new = sources[local[sources] < 0]
                nodes.append(new)
                local[new] = count + np.arange(len(new))
                count += len(new)
                frontier = sources
            all_nodes = np.concatenate(nodes)
            pos = np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)
            # Destinations: recover each picked edge's destination from the CSR row it sits in.
            dst = np.searchsorted(self.indptr, pos, side="right") - 1
            edge_index = np.stack([local[self.src[pos]], local[dst]])
            weight = None
            if self.aggr == "sum":
                # Every expanded node's kept in-edges were picked at one hop, so counting the
                # picked edges per destination gives what it kept.
                kept = np.bincount(edge_index[1], minlength=len(all_nodes))[edge_index[1]]
                degree = self.indptr[dst + 1] - self.indptr[dst]
                weight = (degree / np.maximum(kept, 1)).astype(np.float32)
            return Subgraph(all_nodes, edge_index, self.typ[pos], len(targets), weight)
        finally:
            # Reset only what this call touched: O(batch), not O(graph).
            touched = np.concatenate(nodes)
            local[touched] = -1
            expanded[touched] = False
