"""The same runs on CUDA: they learn as on the CPU (skipped without a GPU)."""
from __future__ import annotations

import pytest
import torch

from rdf2mm.config import TrainConfig
from rdf2mm.models.rgcn import RelationalAdjacency, RGCNLayer
from rdf2mm.pipeline import train
from tests.conftest import label_config

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def test_rgcn_layer_on_cuda_matches_cpu():
    torch.manual_seed(0)
    n, e, r = 500, 4000, 7
    edge_index = torch.randint(n, (2, e))
    edge_type = torch.randint(r, (e,))
    layer = RGCNLayer(16, 8, r, num_bases=3)
    x = torch.randn(n, 16, requires_grad=True)
    adj = RelationalAdjacency(edge_index, edge_type, n, r)
    out = layer(x, adj)
    out.square().sum().backward()
    grad = x.grad.clone()
    x_cuda = x.detach().cuda().requires_grad_()
    out_cuda = layer.cuda()(x_cuda, adj.to("cuda"))
    out_cuda.square().sum().backward()
    torch.testing.assert_close(out_cuda.cpu(), out.detach(), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(x_cuda.grad.cpu(), grad, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("batching", ["full", "mini"])
def test_node_classification_learns_on_cuda_with_amp(numeric_only, batching):
    res = train(label_config(numeric_only, modalities="numeric,textual", epochs=60, batching=batching,
                             batch_size=64, amp=True, device="cuda"))
    assert res.metrics["test_accuracy"] >= 0.90


def test_link_prediction_mini_batch_on_cuda(numeric_only):
    lp = numeric_only.lp_path
    res = train(TrainConfig(graph=[str(lp("train"))], task="link-prediction", train=str(lp("train")),
                            valid=str(lp("valid")), test=str(lp("test")), device="cuda", epochs=10,
                            batching="mini", batch_size=512, modalities="none"))
    assert res.metrics["test_mrr"] > res.metrics["test_mrr_random"]
