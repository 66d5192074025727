"""MR-GCN: literal encoders + entity embeddings feeding R-GCN message passing.

Every node gets an initial vector of size ``in_dim``: entities a learned embedding,
literal nodes of an encoded modality the output of that modality's encoder (trained end
to end with the rest), and literal nodes whose value is not encoded (a modality left
out, an "other" datatype, an ill-typed literal) a learned vector per datatype, so
they still carry structure. Distinct literal values are encoded once per forward pass
and scattered to their nodes (split literals repeat a value on many nodes).

Costly encoders in full-batch training (``encoder_refresh``): the convolutional
encoders (images, character-CNN text, polygon vertices) cost most of a full-batch
step, and passing every distinct value through them with gradients every step buys
little. With a refresh fraction ``f < 1`` a training step (a) takes every value's
encoding *at the current weights* from a cache that an eval-mode, no-gradient pass
filled (validation's own pass fills it, so in node classification, which validates
after every step, the fill is free; it is refilled whenever the encoder's weights
have changed since), and (b) re-encodes a random ``f`` of the distinct values (at
least a minimum number) again with gradients (training mode: dropout), in their
place. The forward values are so those of the current weights (no stale encodings);
only the encoder's gradient is subsampled, like a mini-batch of the literal values,
and scaled by ``1 / f`` so that its expectation is the full gradient. Evaluation,
inference, embeddings and mini-batch steps always encode every value they use fresh
(exact). ``f = 1`` is the plain scheme: every value with gradients every step.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch
from torch import Tensor, nn

from rdf2mm.models.rgcn import Aggr, RelationalAdjacency, RGCNLayer, subgraph_adjacency

if TYPE_CHECKING:
    from rdf2mm.graph.sampling import NeighbourSampler

#: destination nodes per chunk of layer-wise inference
INFERENCE_CHUNK = 1 << 16



def is_costly(encoder: nn.Module) -> bool:
    """Convolutional encoders are the costly ones (images, character CNNs, vertex CNNs);
    an MLP on a few numbers or on frozen features costs next to nothing."""
    return any(isinstance(m, nn.modules.conv._ConvNd) for m in encoder.modules())


@dataclass
class LiteralBlock:
    """The literal nodes of one modality and the preprocessed data they encode from."""

    modality: str
    nodes: Tensor  # long [n]: node ids (in the message graph) of these literal nodes
    rows: Tensor  # long [n]: row of ``data`` that each node encodes
    data: Tensor  # [u, ...]: preprocessed distinct literal values
    encoder: nn.Module = field(repr=False)


class NodeFeatures(nn.Module):
    """Builds the ``[num_nodes, dim]`` input matrix of the first R-GCN layer."""

    def __init__(
        self,
        num_nodes: int,
        num_entities: int,
        dim: int,
        blocks: list[LiteralBlock],
        plain_nodes: Tensor,
        plain_codes: Tensor,
        num_plain_codes: int,
    ) -> None:
        super().__init__()
        self.num_nodes = num_nodes
        self.num_entities = num_entities
        self.dim = dim
        self.entity = nn.Embedding(num_entities, dim)
        nn.init.normal_(self.entity.weight, std=1.0 / dim**0.5)
        self.plain = nn.Embedding(max(num_plain_codes, 1), dim)
        nn.init.normal_(self.plain.weight, std=1.0 / dim**0.5)
        self.modalities = [b.modality for b in blocks]
        self.encoders = nn.ModuleDict({b.modality: b.encoder for b in blocks})
        for b in blocks:
            self.register_buffer(f"data_{b.modality}", b.data, persistent=False)
            self.register_buffer(f"rows_{b.modality}", b.rows, persistent=False)
        self.register_buffer("plain_codes", plain_codes, persistent=False)
        # Inverse permutation: output row k of the concatenation belongs to node order[k].
        order = torch.cat(
            [torch.arange(num_entities, dtype=torch.long), *[b.nodes for b in blocks], plain_nodes]
        )
        if order.numel() != num_nodes or not torch.equal(torch.sort(order).values, torch.arange(num_nodes)):
            raise ValueError("literal blocks must cover every literal node exactly once")
        self.register_buffer("position", torch.argsort(order), persistent=False)
        # Where each node's vector comes from, for a subset of nodes (mini-batches):
        # its part (0 entity, 1 + k block k, 1 + len(blocks) plain) and its row there.
        part = torch.zeros(num_nodes, dtype=torch.long)
        slot = torch.arange(num_nodes, dtype=torch.long)
        for k, nodes in enumerate([*[b.nodes for b in blocks], plain_nodes]):
            part[nodes] = k + 1
            slot[nodes] = torch.arange(len(nodes))
        self.register_buffer("node_part", part.to(torch.int8 if len(blocks) < 120 else torch.long), persistent=False)
        self.register_buffer("node_slot", slot, persistent=False)
        #: modality -> share of its values re-encoded with gradients per full-batch
        #: training step (absent: all of them); see the module docstring
        self.refresh: dict[str, float] = {}
        self.refresh_at_least = 1
        # modality -> (eval-mode encodings of every distinct value, the weights' versions)
        self._cache: dict[str, tuple[Tensor, tuple[int, ...]]] = {}

    def set_refresh(self, frac: float, at_least: int = 1) -> dict[str, float]:
        """Re-encode a share ``frac`` of each costly encoder's distinct values, but at
        least ``at_least`` of them, with gradients per full-batch training step (1:
        all); returns the fractions below 1 by modality."""
        self.refresh_at_least = max(1, int(at_least))
        self.refresh = {m: frac for m in self.modalities if frac < 1 and is_costly(self.encoders[m])}
        self._cache.clear()
        return dict(self.refresh)

    def encode_block(self, modality: str) -> Tensor:
        data = getattr(self, f"data_{modality}")
        encoder = self.encoders[modality]
        frac = self.refresh.get(modality)
        if frac is not None and self.training and torch.is_grad_enabled():
            out = self._partly_fresh(modality, data, encoder, frac)
        else:
            out = encoder(data)
            if frac is not None and not self.training:
                # An eval pass (validation) encodes everything anyway: keep it for the next step.
                self._cache[modality] = (out.detach().float(), _versions(encoder))
        return out[getattr(self, f"rows_{modality}")]

    def _partly_fresh(self, modality: str, data: Tensor, encoder: nn.Module, frac: float) -> Tensor:
        """Every value's encoding at the current weights, a random ``frac`` of them with
        gradients (scaled by ``1 / frac``)."""
        u = data.shape[0]
        k = max(min(u, self.refresh_at_least), math.ceil(frac * u))
        if k >= u:
            return encoder(data)
        cached = self._cache.get(modality)
        if cached is None or cached[1] != _versions(encoder) or cached[0].device != data.device:
            was = encoder.training
            encoder.eval()  # what a validation pass would have stored: no dropout
            with torch.no_grad():
                values = encoder(data).float()
            encoder.train(was)
            self._cache[modality] = (values, _versions(encoder))
        else:
            values = cached[0]
        pick = torch.randperm(u, device=data.device)[:k]
        fresh = encoder(data[pick])
        scale = u / k
        fresh.register_hook(lambda grad: grad * scale)
        return values.to(fresh.dtype).index_copy(0, pick, fresh)

    def forward(self, nodes: Tensor | None = None) -> Tensor:
        """Input vectors of every node, or of ``nodes`` only (each literal encoder then runs
        on just the distinct values those nodes need)."""
        if nodes is None:
            parts = [self.entity.weight]
            parts += [self.encode_block(m).to(self.entity.weight.dtype) for m in self.modalities]
            parts.append(self.plain(self.plain_codes))
            return torch.cat(parts, dim=0)[self.position]
        part = self.node_part[nodes].long()
        slot = self.node_slot[nodes]
        pieces, where = [], []
        # Parameters a batch does not reach still join the graph with a zero term, so
        # every step has a gradient for every parameter (DistributedDataParallel needs
        # that to stay in step without scanning for unused parameters each step).
        unused: list[Tensor] = []
        for k in range(len(self.modalities) + 2):
            sel = (part == k).nonzero().squeeze(1)
            if sel.numel() == 0:
                if k == len(self.modalities) + 1:
                    unused.append(self.plain.weight[:1].sum())
                elif k == 0:
                    unused.append(self.entity.weight[:1].sum())
                else:
                    m = self.modalities[k - 1]
                    unused.append(self.encoders[m](getattr(self, f"data_{m}")[:1]).sum())
                continue
            s = slot[sel]
            if k == 0:
                vec = self.entity(s)
            elif k == len(self.modalities) + 1:
                vec = self.plain(self.plain_codes[s])
            else:
                m = self.modalities[k - 1]
                rows, local = torch.unique(getattr(self, f"rows_{m}")[s], return_inverse=True)
                vec = self.encoders[m](getattr(self, f"data_{m}")[rows])[local]
            pieces.append(vec.to(self.entity.weight.dtype))
            where.append(sel)
        out = torch.cat(pieces, dim=0)[torch.argsort(torch.cat(where))]
        if unused and torch.is_grad_enabled():
            out = out + 0.0 * torch.stack(unused).sum().to(out.dtype)
        return out


def _versions(module: nn.Module) -> tuple[int, ...]:
    """The in-place version counters of ``module``'s parameters: an optimiser step or a
    weight load changes them, and so marks cached encodings as stale."""
    return tuple(p._version for p in module.parameters())


class MRGCN(nn.Module):
    """Node features, then ``num_layers`` R-GCN layers; returns ``[num_nodes, out_dim]``.

    ``aggr`` is how every layer combines a node's messages per relation, ``"mean"``
    (R-GCN's) or ``"sum"`` (keeps how many neighbours there are), as PyG layers take it.
    """

    def __init__(
        self,
        features: NodeFeatures,
        num_relations: int,
        hidden: int,
        out_dim: int,
        num_layers: int = 2,
        num_bases: int | None = None,
        num_blocks: int | None = None,
        dropout: float = 0.0,
        self_loop: bool = True,
        entity_dropout: float = 0.0,
        aggr: Aggr = "mean",
    ) -> None:
        super().__init__()
        self.features = features
        self.entity_dropout = entity_dropout
        self.aggr: Aggr = aggr
        dims = [features.dim] + [hidden] * (num_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(
            RGCNLayer(
                dims[i],
                dims[i + 1],
                num_relations,
                num_bases=num_bases,
                num_blocks=num_blocks if dims[i] % (num_blocks or 1) == 0 and dims[i + 1] % (num_blocks or 1) == 0 else None,
                self_loop=self_loop,
                aggr=aggr,
            )
            for i in range(num_layers)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, adj: RelationalAdjacency, nodes: Tensor | None = None) -> Tensor:
        """Outputs of every node, or (mini-batch) of a subgraph whose local node ``i`` is
        global node ``nodes[i]`` and whose edges ``adj`` holds in local numbers."""
        h = self.features(nodes)
        if self.training and self.entity_dropout > 0:
            # Drop whole entity embeddings: a labelled node cannot just memorise its own
            # vector, so the model has to use its literals and neighbours.
            keep = torch.rand(h.shape[0], 1, device=h.device) >= self.entity_dropout
            ids = torch.arange(h.shape[0], device=h.device) if nodes is None else nodes
            is_entity = (ids < self.features.num_entities).unsqueeze(1)
            # Rescale the kept entities only: literal vectors are never dropped.
            h = torch.where(is_entity, h * keep / (1 - self.entity_dropout), h)
        return self.propagate(h, adj)

    def propagate(self, h: Tensor, adj: RelationalAdjacency) -> Tensor:
        """The R-GCN layers on input vectors ``h``."""
        for i, layer in enumerate(self.layers):
            if i > 0:
                h = self.dropout(h)
            h = layer(h, adj)
            if i < len(self.layers) - 1:
                h = torch.relu(h)
        return h

    @torch.no_grad()
    def embed(self, adj: RelationalAdjacency) -> Tensor:
        """Node representations before the output layer (the input vectors for a 1-layer model).

        These are the "entity embeddings" rdf2mm exports: they combine an entity's own
        embedding with its neighbours' and its literals' encodings.
        """
        h = self.features()
        for layer in self.layers[:-1]:
            h = torch.relu(layer(h, adj))
        return h

    @torch.no_grad()
    def layerwise(
        self,
        sampler: NeighbourSampler,
        num_relations: int,
        device: torch.device,
        autocast: Callable[[], Any] = contextlib.nullcontext,
        *,
        rank: int = 0,
        world: int = 1,
        all_reduce: Callable[[Tensor], Tensor] | None = None,
        chunk: int = INFERENCE_CHUNK,
    ) -> tuple[Tensor, Tensor]:
        """Exact outputs and embeddings (as :meth:`embed`) of every node of ``sampler``'s
        graph, layer by layer over chunks of ``chunk`` destination nodes with all their
        in-edges: memory bounded by the chunk, not the graph; on CPU, float32.

        Shared among ``world`` processes, this one (``rank``) computes every ``world``-th
        chunk and ``all_reduce`` sums the results (rows not computed are zero), so all
        end with the full result.
        """
        reduce = all_reduce or (lambda t: t)
        self.eval()
        n = sampler.num_nodes
        starts = list(range(0, n, chunk))[rank::world]
        h = torch.zeros(n, self.features.dim)
        with autocast():
            for s in starts:
                ids = torch.arange(s, min(s + chunk, n), device=device)
                h[s : s + len(ids)] = self.features(ids).float().cpu()
        reduce(h)
        embeddings = h
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            out = torch.zeros(n, layer.out_dim)
            for s in starts:
                targets = np.arange(s, min(s + chunk, n), dtype=np.int64)
                sub = sampler.sample(targets, fanouts=(None,))
                adj = subgraph_adjacency(sub, num_relations, device)
                with autocast():
                    y = layer(h[torch.from_numpy(sub.nodes)].to(device), adj)[: len(targets)]
                out[s : s + len(targets)] = y.float().cpu()
            reduce(out)
            if i < last:
                out = torch.relu(out)
                embeddings = out
            h = out
        return h, embeddings
