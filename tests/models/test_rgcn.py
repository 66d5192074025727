"""RGCNLayer against a naive dense reference and against PyG's RGCNConv."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from rdf2mm.models.rgcn import RelationalAdjacency, RGCNLayer

VARIANTS = {"full": {}, "bases": {"num_bases": 3}, "blocks": {"num_blocks": 2}}
MODES = ["transform", "aggregate", None]


def close(got: Tensor, want: Tensor) -> None:
    """Tight comparison for the float64 checks."""
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


def random_graph(n: int, e: int, r: int, seed: int) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, n, (2, e), generator=g)
    edge_type = torch.randint(0, r, (e,), generator=g)
    return edge_index, edge_type


def dense_weights(layer: RGCNLayer) -> Tensor:
    """[R, in, out] built independently of the layer's own code path."""
    if layer.num_blocks is not None:
        return torch.stack([torch.block_diag(*layer.blocks[r]) for r in range(layer.num_relations)])
    if layer.num_bases is not None:
        return torch.einsum("rb,bio->rio", layer.comp, layer.basis)
    return layer.weight


def reference(x: Tensor, edge_index: Tensor, edge_type: Tensor, layer: RGCNLayer, aggr: str = "mean",
              edge_weight: Tensor | None = None) -> Tensor:
    """Dense per-relation R-GCN: x W_0 + b + sum_r D_r^-1 A_r x W_r (A_r x W_r for sum,
    with ``edge_weight`` as the entries of A_r)."""
    n = x.size(0)
    w = dense_weights(layer)
    out = x @ layer.root if layer.root is not None else x.new_zeros(n, layer.out_dim)
    for r in range(layer.num_relations):
        m = edge_type == r
        a = x.new_zeros(n, n)
        ones = x.new_ones(int(m.sum())) if edge_weight is None or aggr == "mean" else edge_weight[m].to(x.dtype)
        a.index_put_((edge_index[1, m], edge_index[0, m]), ones, accumulate=True)
        if aggr == "mean":
            a = a / a.sum(1, keepdim=True).clamp(min=1)
        out = out + a @ x @ w[r]
    return out + layer.bias if layer.bias is not None else out


def grads(out: Tensor, tensors: list[Tensor]) -> list[Tensor]:
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    g = torch.autograd.grad((out * weights).sum(), tensors, materialize_grads=True)
    return list(g)


def params(layer: RGCNLayer) -> list[Tensor]:
    return [p for p in layer.parameters()]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("aggr", ["mean", "sum"])
def test_matches_dense_reference(variant: str, mode: str | None, aggr: str) -> None:
    n, r = 30, 4
    edge_index, edge_type = random_graph(n, 120, r, seed=1)
    # Duplicate edges count twice, in the degree and in the sum.
    edge_index = torch.cat([edge_index, edge_index[:, :10]], 1)
    edge_type = torch.cat([edge_type, edge_type[:10]])
    adj = RelationalAdjacency(edge_index, edge_type, n, r)
    torch.manual_seed(0)
    layer = RGCNLayer(6, 4, r, mode=mode, aggr=aggr, **VARIANTS[variant]).double()
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(n, 6, dtype=torch.float64, requires_grad=True)
    out = layer(x, adj)
    ref = reference(x, edge_index, edge_type, layer, aggr)
    close(out, ref)
    for got, want in zip(grads(out, [x, *params(layer)]), grads(ref, [x, *params(layer)])):
        close(got, want)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("aggr", ["mean", "sum"])
def test_edge_weights_scale_summed_messages_and_the_mean_ignores_them(mode: str | None, aggr: str) -> None:
    n, r = 25, 3
    edge_index, edge_type = random_graph(n, 90, r, seed=4)
    weight = torch.rand(90, generator=torch.Generator().manual_seed(5), dtype=torch.float64) * 3
    adj = RelationalAdjacency(edge_index, edge_type, n, r, edge_weight=weight)
    torch.manual_seed(0)
    layer = RGCNLayer(5, 4, r, mode=mode, num_bases=2, aggr=aggr).double()
    x = torch.randn(n, 5, dtype=torch.float64, requires_grad=True)
    out = layer(x, adj)
    ref = reference(x, edge_index, edge_type, layer, aggr, weight)
    close(out, ref)
    for got, want in zip(grads(out, [x, *params(layer)]), grads(ref, [x, *params(layer)])):
        close(got, want)


def test_bad_aggr_and_edge_weight_shape_are_refused() -> None:
    edge_index, edge_type = random_graph(5, 8, 2, seed=0)
    with pytest.raises(ValueError, match="aggr"):
        RGCNLayer(4, 4, 2, aggr="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="aggr"):
        RelationalAdjacency(edge_index, edge_type, 5, 2).plans("max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="edge_weight"):
        RelationalAdjacency(edge_index, edge_type, 5, 2, edge_weight=torch.ones(3))


def test_one_adjacency_serves_both_aggregations() -> None:
    """The aggregation is the layer's: one graph, two layers, each aggregating its own way."""
    n, r = 20, 3
    edge_index, edge_type = random_graph(n, 70, r, seed=6)
    adj = RelationalAdjacency(edge_index, edge_type, n, r)
    x = torch.randn(n, 5, dtype=torch.float64)
    for aggr in ("mean", "sum"):
        torch.manual_seed(0)
        layer = RGCNLayer(5, 3, r, aggr=aggr).double()
        close(layer(x, adj), reference(x, edge_index, edge_type, layer, aggr))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("mode", MODES)
def test_matches_pyg_rgcnconv(variant: str, mode: str | None) -> None:
    from torch_geometric.nn import RGCNConv

    n, r, din, dout = 40, 5, 4, 6
    edge_index, edge_type = random_graph(n, 200, r, seed=2)
    kw = VARIANTS[variant]
    torch.manual_seed(0)
    ours = RGCNLayer(din, dout, r, mode=mode, **kw).double()
    pyg = RGCNConv(din, dout, r, aggr="mean", **kw).double()
    with torch.no_grad():
        ours.bias.normal_()
        if "num_bases" in kw:
            pyg.weight.copy_(ours.basis)
            pyg.comp.copy_(ours.comp)
        elif "num_blocks" in kw:
            pyg.weight.copy_(ours.blocks)
        else:
            pyg.weight.copy_(ours.weight)
        pyg.root.copy_(ours.root)
        pyg.bias.copy_(ours.bias)
    x = torch.randn(n, din, dtype=torch.float64, requires_grad=True)
    out = ours(x, RelationalAdjacency(edge_index, edge_type, n, r))
    ref = pyg(x, edge_index, edge_type)
    close(out, ref)
    # Parameters are registered in the same order: relation weight(s), root, bias.
    for got, want in zip(grads(out, [x, *params(ours)]), grads(ref, [x, *params(pyg)])):
        close(got, want)


@pytest.mark.parametrize("mode", MODES)
def test_empty_relations_and_isolated_nodes(mode: str | None) -> None:
    n, r = 12, 5
    # Relations 1, 3 and 4 have no edges; nodes 8..11 touch no edge.
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6, 7]])
    edge_type = torch.tensor([0, 2, 0, 2, 2, 0, 0])
    adj = RelationalAdjacency(edge_index, edge_type, n, r)
    torch.manual_seed(0)
    layer = RGCNLayer(3, 3, r, mode=mode).double()
    x = torch.randn(n, 3, dtype=torch.float64, requires_grad=True)
    out = layer(x, adj)
    ref = reference(x, edge_index, edge_type, layer)
    close(out, ref)
    close(out[8:], x[8:] @ layer.root + layer.bias)
    gx, gw = grads(out, [x, layer.weight])
    close(gx, grads(ref, [x])[0])
    assert torch.all(gw[[1, 3, 4]] == 0) and torch.any(gw[[0, 2]] != 0)


def test_no_edges_and_no_self_loop() -> None:
    adj = RelationalAdjacency(torch.empty(2, 0, dtype=torch.long), torch.empty(0, dtype=torch.long), 5, 3)
    layer = RGCNLayer(4, 2, 3, num_bases=2)
    x = torch.randn(5, 4)
    close(layer(x, adj), x @ layer.root + layer.bias)
    bare = RGCNLayer(4, 2, 3, bias=False, self_loop=False)
    assert bare.root is None and bare.bias is None
    assert torch.equal(bare(x, adj), torch.zeros(5, 2))


def test_validation_errors() -> None:
    ei = torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError):
        RelationalAdjacency(ei, torch.tensor([0, 3]), 3, 3)
    with pytest.raises(ValueError):
        RelationalAdjacency(ei, torch.tensor([0, 1]), 2, 3)
    with pytest.raises(ValueError):
        RGCNLayer(4, 4, 3, aggr="sym")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RGCNLayer(5, 4, 3, num_blocks=2)
    adj = RelationalAdjacency(ei, torch.tensor([0, 1]), 3, 3)
    with pytest.raises(ValueError):
        RGCNLayer(4, 4, 3)(torch.randn(4, 4), adj)


def test_device_move() -> None:
    n, r = 20, 3
    edge_index, edge_type = random_graph(n, 60, r, seed=3)
    adj = RelationalAdjacency(edge_index, edge_type, n, r)
    moved = adj.to("cpu")
    assert moved.device == torch.device("cpu") and moved.num_edges == 60
    layer = RGCNLayer(4, 4, r, num_bases=2)
    x = torch.randn(n, 4)
    torch.testing.assert_close(layer(x, moved), layer(x, adj))
    if torch.cuda.is_available():
        cuda_adj = adj.to("cuda")
        assert cuda_adj.device.type == "cuda" and adj.device.type == "cpu"
        out = layer.to("cuda")(x.cuda(), cuda_adj)
        torch.testing.assert_close(out.cpu(), layer.cpu()(x, adj), rtol=1e-4, atol=1e-5)


def test_autocast_runs_and_is_close() -> None:
    n, r = 50, 4
    edge_index, edge_type = random_graph(n, 300, r, seed=4)
    adj = RelationalAdjacency(edge_index, edge_type, n, r)
    torch.manual_seed(0)
    layer = RGCNLayer(8, 8, r, num_bases=2)
    x = torch.randn(n, 8, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x, adj)
    out.float().sum().backward()
    assert x.grad is not None and layer.basis.grad is not None and layer.basis.grad.dtype == torch.float32
    torch.testing.assert_close(out.float(), layer(x, adj), rtol=0.05, atol=0.05)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 12),
    e=st.integers(0, 40),
    r=st.integers(1, 4),
    seed=st.integers(0, 10_000),
    mode=st.sampled_from(MODES),
)
def test_random_graphs_match_reference(n: int, e: int, r: int, seed: int, mode: str | None) -> None:
    edge_index, edge_type = random_graph(n, e, r, seed)
    adj = RelationalAdjacency(edge_index, edge_type, n, r)
    torch.manual_seed(seed)
    layer = RGCNLayer(3, 2, r, num_bases=2, mode=mode).double()
    x = torch.randn(n, 3, dtype=torch.float64, requires_grad=True)
    out = layer(x, adj)
    ref = reference(x, edge_index, edge_type, layer)
    close(out, ref)
    close(grads(out, [x, layer.comp])[1], grads(ref, [x, layer.comp])[1])


def test_node_classification_by_neighbour_relation() -> None:
    """Every labelled node has one neighbour; its class is the relation of that edge.

    The neighbours are interchangeable (same random embedding distribution), so only
    relation-specific message passing can separate the classes.
    """
    torch.manual_seed(0)
    labelled, hubs, r = 40, 4, 2
    n = labelled + hubs
    y = torch.arange(labelled) % 2
    src = labelled + torch.arange(labelled) % hubs  # every hub sends along both relations
    edge_index = torch.stack([src, torch.arange(labelled)])
    adj = RelationalAdjacency(edge_index, y, n, r)
    emb = torch.nn.Parameter(torch.randn(n, 8) * 0.3)
    l1, l2 = RGCNLayer(8, 16, r, num_bases=2), RGCNLayer(16, 2, r, num_bases=2)
    opt = torch.optim.Adam([emb, *l1.parameters(), *l2.parameters()], lr=0.05)
    for _ in range(100):
        opt.zero_grad()
        logits = l2(torch.relu(l1(emb, adj)), adj)[:labelled]
        loss = torch.nn.functional.cross_entropy(logits, y)
        loss.backward()
        opt.step()
    assert (logits.argmax(1) == y).all(), f"loss {loss.item():.3f}"
