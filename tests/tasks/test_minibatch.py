"""Mini-batch training: exact layer-wise inference, the full/mini choice, and real learning."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from rdf2mm.errors import UsageError
from rdf2mm.graph.ingest import read_graph
from rdf2mm.graph.sampling import NeighbourSampler
from rdf2mm.pipeline import train
from rdf2mm.tasks.distributed import Workers
from rdf2mm.tasks.inputs import build_encoder, prepare_inputs
from rdf2mm.training.seeding import seed_everything
from rdf2mm.tasks.minibatch import choose_batching, epoch_batches, fanouts, layerwise_inference
from rdf2mm.tasks.settings import ModelSettings

from tests.conftest import label_config

GIB = 1 << 30


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_layerwise_inference_equals_the_full_forward(numeric_only, layers):
    torch.set_num_threads(1)
    kg, _ = read_graph([str(numeric_only.graph_path)])
    inputs = prepare_inputs(kg, "all")
    seed_everything(1)
    model = build_encoder(inputs, ModelSettings(layers=layers), out_dim=4).eval()
    adj = inputs.adjacency(torch.device("cpu"))
    with torch.no_grad():
        full, emb = model(adj), model.embed(adj)
    mg = inputs.mg
    sampler = NeighbourSampler(mg.edge_index, mg.edge_type, mg.num_nodes, [5])
    # small chunks, so that every layer runs over several of them
    out, emb2 = layerwise_inference(model, sampler, mg.num_relations, torch.device("cpu"), chunk=500)
    torch.testing.assert_close(out, full, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(emb2, emb, rtol=1e-4, atol=1e-5)


def test_auto_batching_picks_mini_only_when_full_would_not_fit():
    one = Workers()
    fit = choose_batching("auto", 1 * GIB, 10 * GIB, 0.5, one, 256, [10], 2)
    assert fit.mode == "full"
    big = choose_batching("auto", 6 * GIB, 10 * GIB, 0.5, one, 256, [25, 10], 2)
    assert big.mode == "mini" and "6.0 GiB" in big.reason and big.fanout == (25, 10)
    assert choose_batching("mini", 1, 10 * GIB, 0.5, one, 256, [0], 2).fanout == (None, None)
    assert choose_batching("full", 6 * GIB, 10 * GIB, 0.5, one, 256, [10], 2).mode == "full"  # the override wins
    assert choose_batching("full", 1, 10 * GIB, 0.5, Workers(0, 2), 256, [10], 2).mode == "mini"
    assert fanouts([25, 10], 3) == (25, 10, 10) and fanouts([7], 1) == (7,)


def test_epoch_batches_give_every_worker_the_same_number_of_disjoint_batches():
    items = np.arange(1001)
    shares = [list(epoch_batches(items, 100, np.random.default_rng([4, 1]), Workers(r, 3))) for r in range(3)]
    assert len({len(s) for s in shares}) == 1
    seen = np.concatenate([b for s in shares for b in s])
    assert sorted(seen.tolist()) == items.tolist()
    assert all(len(b) <= 100 for s in shares for b in s)


def test_mini_batch_training_learns_like_full_batch(numeric_only):
    torch.set_num_threads(1)
    full = train(label_config(numeric_only, modalities="numeric", epochs=60, batching="full"))
    mini = train(label_config(numeric_only, modalities="numeric", epochs=60, batching="mini", batch_size=64, fanout=[10]))
    assert mini.metrics["batching"] == "mini" and full.metrics["batching"] == "full"
    assert mini.metrics["test_accuracy"] >= 0.90
    assert abs(mini.metrics["test_accuracy"] - full.metrics["test_accuracy"]) <= 0.05


def test_mini_batch_is_reproducible_on_cpu(numeric_only):
    torch.set_num_threads(1)
    runs = [train(label_config(numeric_only, modalities="numeric,textual", epochs=4, patience=100, batching="mini",
                         batch_size=50)) for _ in range(2)]
    assert runs[0].per_seed[0]["valid_accuracy"] == runs[1].per_seed[0]["valid_accuracy"]
    assert runs[0].per_seed[0]["test_macro_f1"] == runs[1].per_seed[0]["test_macro_f1"]


def test_auto_switches_to_mini_batch_under_a_memory_limit(numeric_only, monkeypatch):
    torch.set_num_threads(1)
    # far less than a full batch needs: full-batch training would have been refused
    import rdf2mm.tasks.run_common as run_common  # plan_batching asks it what memory is free

    monkeypatch.setattr(run_common, "available_memory", lambda: 8 << 20)
    res = train(label_config(numeric_only, modalities="numeric", epochs=30, batch_size=64))
    assert res.metrics["batching"] == "mini" and "available" in res.metrics["batching_reason"]
    assert res.metrics["test_accuracy"] >= 0.85


def test_bad_batching_options_are_usage_errors(numeric_only):
    with pytest.raises(UsageError, match="--batching"):
        train(label_config(numeric_only, batching="sometimes"))
    with pytest.raises(UsageError, match="--fanout"):
        train(label_config(numeric_only, batching="mini", fanout=[-1]))


def test_predict_on_a_mini_batch_run_gives_the_run_own_predictions(numeric_only, tmp_path):
    from rdf2mm.tasks.prediction import predict_nodes

    torch.set_num_threads(1)
    out = tmp_path / "run"
    train(label_config(numeric_only, modalities="numeric", epochs=10, batching="mini", batch_size=64, out=str(out)))
    lines = (out / "predictions.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"))) for line in lines[1:]][:20]
    again = predict_nodes(out, nodes=[r["entity"] for r in rows], device="cpu")
    assert [p["predicted_class"] for p in again] == [r["predicted_class"] for r in rows]
    assert [round(p["score"], 4) for p in again] == [round(float(r["score"]), 4) for r in rows]


def test_mini_batch_steps_are_reported_for_progress(numeric_only):
    torch.set_num_threads(1)
    seen = []
    train(label_config(numeric_only, modalities="numeric", epochs=2, patience=100, batching="mini", batch_size=100,
                       aggregation="sum"),  # one aggregation: auto would train (and report) twice
          progress=lambda stage, data: seen.append(data) if stage == "step" else None)
    steps = seen[0]["steps"]
    assert steps > 1 and len(seen) == 2 * steps
    assert [(d["epoch"], d["step"]) for d in seen[:steps]] == [(1, k) for k in range(1, steps + 1)]
