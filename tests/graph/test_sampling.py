"""Neighbourhood sampling: exact neighbourhoods reproduce full-graph outputs; fanouts bound them."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from rdf2mm.graph.ingest import read_graph
from rdf2mm.graph.sampling import NeighbourSampler
from rdf2mm.tasks.inputs import build_encoder, prepare_inputs
from rdf2mm.training.seeding import seed_everything
from rdf2mm.tasks.minibatch import forward_batch
from rdf2mm.tasks.settings import ModelSettings
from rdf2mm.synthetic import generate


@pytest.fixture(scope="module")
def model_and_inputs(tmp_path_factory):
    """A two-layer MR-GCN with every modality's encoder, on a small generated graph."""
    torch.set_num_threads(1)
    ds = generate(tmp_path_factory.mktemp("g"), triples=3000, seed=1)
    kg, _ = read_graph([str(ds.graph_path)])
    inputs = prepare_inputs(kg, "all")
    seed_everything(0)
    model = build_encoder(inputs, ModelSettings(), out_dim=3).eval()
    return model, inputs


def sampler_for(inputs, fanouts, aggr="mean"):
    mg = inputs.mg
    return NeighbourSampler(mg.edge_index, mg.edge_type, mg.num_nodes, fanouts, aggr)


@pytest.mark.parametrize("aggregation", ["mean", "sum"])
def test_exact_neighbourhood_gives_the_full_graph_outputs(model_and_inputs, aggregation):
    _, inputs = model_and_inputs
    seed_everything(0)
    model = build_encoder(inputs, ModelSettings(aggregation=aggregation), out_dim=3).eval()
    with torch.no_grad():
        full = model(inputs.adjacency(torch.device("cpu")))
    sampler = sampler_for(inputs, [None, None], aggregation)
    rng = np.random.default_rng(0)
    for targets in (np.array([5, 0, 17, 3, 100]), np.arange(inputs.mg.num_entities)[::7],
                    inputs.mg.num_entities + np.array([0, 11])):  # literal nodes as targets too
        with torch.no_grad():
            part = forward_batch(model, sampler, targets, inputs.mg.num_relations, torch.device("cpu"), rng)
        torch.testing.assert_close(part, full[torch.as_tensor(targets)], rtol=1e-4, atol=1e-5)


def test_sampled_sum_is_an_unbiased_estimate_of_the_full_sum():
    # node 0 has 300 in-edges: 200 of relation 0 (sources carry value 1) and 100 of
    # relation 1 (value 2); a fanout of 10 keeps a few of them, weighted up to the degree.
    n = 301
    src = np.arange(1, n)
    typ = (src > 200).astype(np.int64)
    sampler = NeighbourSampler(np.stack([src, np.zeros_like(src)]), typ, n, [10], "sum")
    x = torch.where(torch.arange(n) > 200, 2.0, 1.0).unsqueeze(1)
    rng = np.random.default_rng(0)
    totals = []
    for _ in range(2000):
        sub = sampler.sample(np.array([0]), rng)
        assert (sub.edge_index[1] == 0).sum() <= 10 and np.all(sub.edge_weight == 300 / len(sub.edge_weight))
        weight = torch.from_numpy(sub.edge_weight).double()
        per_rel = torch.zeros(2, dtype=torch.float64).index_add_(
            0, torch.from_numpy(sub.edge_type), weight * x[torch.from_numpy(sub.nodes[sub.edge_index[0]])].squeeze(1))
        totals.append(per_rel)
    mean = torch.stack(totals).mean(0)
    torch.testing.assert_close(mean, torch.tensor([200.0, 200.0], dtype=torch.float64), rtol=0.03, atol=0)
    # nothing dropped, nothing weighted
    exact = NeighbourSampler(np.stack([src, np.zeros_like(src)]), typ, n, [None], "sum").sample(np.array([0]))
    assert np.all(exact.edge_weight == 1.0)
    # the mean needs no weights: a uniform subset of in-edges already estimates it
    assert NeighbourSampler(np.stack([src, np.zeros_like(src)]), typ, n, [10]).sample(np.array([0]), rng).edge_weight is None
    with pytest.raises(ValueError, match="aggr"):
        NeighbourSampler(np.stack([src, np.zeros_like(src)]), typ, n, [10], "max")


def test_subgraph_layout_targets_first_and_local_edges(model_and_inputs):
    _, inputs = model_and_inputs
    sampler = sampler_for(inputs, [None, None])
    targets = np.array([9, 2, 40])
    sub = sampler.sample(targets)
    assert sub.num_targets == 3 and list(sub.nodes[:3]) == [9, 2, 40]
    assert len(np.unique(sub.nodes)) == sub.num_nodes
    assert sub.edge_index.min() >= 0 and sub.edge_index.max() < sub.num_nodes
    # every in-edge of a target is present, with its relation
    mg = inputs.mg
    glob = {(int(s), int(d), int(t)) for s, d, t in zip(sub.nodes[sub.edge_index[0]], sub.nodes[sub.edge_index[1]],
                                                       sub.edge_type)}
    for target in targets:
        into = mg.edge_index[1] == target
        want = {(int(s), int(target), int(t)) for s, t in zip(mg.edge_index[0][into], mg.edge_type[into])}
        assert want <= glob
    # the scratch state is reset: the same call gives the same subgraph again
    again = sampler.sample(targets)
    assert np.array_equal(again.nodes, sub.nodes) and np.array_equal(again.edge_index, sub.edge_index)


def test_fanout_bounds_in_edges_per_node_even_for_a_hub():
    # node 0 is a hub with 10,000 in-edges; nodes 1..10000 each have one in-edge from node 0
    n = 10_001
    src = np.concatenate([np.arange(1, n), np.zeros(n - 1, dtype=np.int64)])
    dst = np.concatenate([np.zeros(n - 1, dtype=np.int64), np.arange(1, n)])
    sampler = NeighbourSampler(np.stack([src, dst]), np.zeros(len(src), dtype=np.int64), n, [5, 3])
    sub = sampler.sample(np.array([0]), np.random.default_rng(0))
    into_hub = (sub.edge_index[1] == 0).sum()
    assert 1 <= into_hub <= 5
    counts = np.bincount(sub.edge_index[1], minlength=sub.num_nodes)
    assert counts[1:].max() <= 3
    assert sub.num_nodes <= 1 + 5  # the hub's sampled sources; their in-edges lead back to the hub


def test_negative_fanout_is_refused():
    with pytest.raises(ValueError):
        NeighbourSampler(np.zeros((2, 0), dtype=np.int64), np.zeros(0, dtype=np.int64), 3, [0])


def test_every_literal_encoder_gives_a_value_the_same_vector_in_any_batch(model_and_inputs):
    """Mini-batches encode different subsets of the literals: the result must not depend on
    which other values share the batch (padding, length buckets, normalisation)."""
    model, _ = model_and_inputs
    features = model.features
    assert set(features.modalities) >= {"numeric", "temporal", "textual", "visual", "spatial"}
    rng = np.random.default_rng(0)
    for name in features.modalities:
        data = getattr(features, f"data_{name}")
        encoder = features.encoders[name].eval()
        with torch.no_grad():
            together = encoder(data)
            for _ in range(3):
                subset = torch.as_tensor(rng.choice(len(data), size=min(3, len(data)), replace=False))
                torch.testing.assert_close(encoder(data[subset]), together[subset], rtol=1e-4, atol=1e-5,
                                           msg=lambda m, name=name: f"{name}: {m}")
