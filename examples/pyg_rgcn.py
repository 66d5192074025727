"""Your own PyTorch Geometric model on a graph rdf2mm encoded: R-GCN node classification.

rdf2mm reads the RDF, builds the relational graph (literal nodes, inverse relations) and
preprocesses every literal by modality; the model below is plain PyG (``RGCNConv``),
using rdf2mm's literal encoders as ordinary torch modules. On AIFB+::

    python examples/pyg_rgcn.py /work/shared/data/aifbplus/aifbplus.nt.gz \\
        --train /work/shared/data/aifbplus/train.nt.gz \\
        --valid /work/shared/data/aifbplus/valid.nt.gz \\
        --test /work/shared/data/aifbplus/test.nt.gz

Prints one JSON line with the accuracies.
"""
from __future__ import annotations

import argparse
import json
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import RGCNConv

import rdf2mm
from rdf2mm.pyg import literal_encoders
from rdf2mm.tasks.labels import labels_from_files


class Net(nn.Module):
    """Node embeddings (literal nodes: their modality's encoder), then two R-GCN layers."""

    def __init__(self, data: Any, dim: int, classes: int, bases: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(data.num_nodes, dim)
        self.encoders = literal_encoders(data, dim)
        R = len(data.relation_names)
        self.conv1 = RGCNConv(dim, dim, R, num_bases=min(bases, R))
        self.conv2 = RGCNConv(dim, classes, R, num_bases=min(bases, R))

    def forward(self, data: Any) -> torch.Tensor:
        x = self.embed.weight
        for name, encoder in self.encoders.items():
            x = x.index_copy(0, data[f"{name}_index"], encoder(data[f"{name}_x"]))
        x = F.dropout(F.relu(self.conv1(x, data.edge_index, data.edge_type)), 0.2, self.training)
        return self.conv2(x, data.edge_index, data.edge_type)


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("graph", nargs="+")
    p.add_argument("--train", required=True)
    p.add_argument("--valid")
    p.add_argument("--test", required=True)
    p.add_argument("--modalities", default="all")
    p.add_argument("--literals", default="split")
    p.add_argument("--dim", type=int, default=16)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)

    kg = rdf2mm.read(args.graph)
    labels = labels_from_files(kg, args.train, args.valid, args.test)
    # the label predicate must not be in the graph the model sees (label leakage)
    rel = kg.relation_index()
    kg = kg.without_relations({rel[p] for p in labels.target_predicates if p in rel})
    data = kg.to_pyg(modalities=args.modalities, literals=args.literals)

    split = {name: (torch.as_tensor(s.nodes), torch.as_tensor(s.classes))
             for name in ("train", "valid", "test") if len(s := labels.split(name))}
    model = Net(data, args.dim, labels.num_classes, bases=30)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)

    def accuracy(logits: torch.Tensor, name: str) -> float:
        nodes, y = split[name]
        return float((logits[nodes].argmax(1) == y).float().mean())

    best: dict[str, float] = {"valid_accuracy": -1.0}
    for epoch in range(args.epochs):
        model.train()
        opt.zero_grad()
        nodes, y = split["train"]
        loss = F.cross_entropy(model(data)[nodes], y)
        loss.backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            logits = model(data)
        score = accuracy(logits, "valid" if "valid" in split else "train")
        if score > best["valid_accuracy"]:  # keep the test score of the best validation epoch
            best = {"epoch": epoch, "valid_accuracy": score, "test_accuracy": accuracy(logits, "test")}
    best["classes"] = labels.num_classes
    print(json.dumps(best))
    return best


if __name__ == "__main__":
    main()
