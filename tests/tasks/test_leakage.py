"""No label leakage: the target predicate's triples (and inverses) never reach the model."""
from __future__ import annotations

import random


from rdf2mm.config import TrainConfig
from rdf2mm.graph.ingest import read_graph
from rdf2mm.pipeline import load_labels, remove_targets, train
from rdf2mm.tasks.inputs import prepare_inputs

CLS = "http://e/cls"


def write_graph(path, n=160, seed=0):
    """Items whose class is ONLY in the target triples; everything else is random."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        lines.append(f"<http://e/i{i}> <{CLS}> <http://e/class{i % 2}> .")
        lines.append(f"<http://e/i{i}> <http://e/type> <http://e/Item> .")
        for _ in range(2):
            lines.append(f"<http://e/i{i}> <http://e/rel> <http://e/g{rng.randrange(20)}> .")
        lines.append(f'<http://e/i{i}> <http://e/num> "{rng.random():.4f}"^^<http://www.w3.org/2001/XMLSchema#double> .')
    path.write_text("\n".join(lines) + "\n")
    return path


def test_target_triples_and_inverses_are_not_in_the_message_graph(tmp_path):
    g = write_graph(tmp_path / "g.nt")
    cfg = TrainConfig(graph=[str(g)], target=CLS)
    kg, _ = read_graph(cfg.graph)
    labels = load_labels(kg, cfg)
    clean = remove_targets(kg, labels.target_predicates)
    inputs = prepare_inputs(clean)
    rid = kg.relation_index()[CLS]
    R = kg.num_relations
    types = set(inputs.mg.edge_type.tolist())
    assert rid not in types and rid + R not in types  # neither the triples nor their inverses
    # and no edge touches the class entities any more
    class_nodes = {kg.find_entity("http://e/class0"), kg.find_entity("http://e/class1")}
    assert not class_nodes & set(inputs.mg.edge_index.ravel().tolist())
    # the original graph did have them: the check above is not vacuous
    assert (kg.edges[:, 1] == rid).sum() == 160


def test_model_without_leak_is_at_chance_but_a_leaky_setup_is_not(tmp_path):
    g = write_graph(tmp_path / "g.nt")
    common = dict(graph=[str(g)], epochs=60, patience=60, seeds=1, cache=False)
    honest = train(TrainConfig(target=CLS, **common))
    # The same labels as a TSV file carry no predicate, so nothing is removed: the class
    # entities stay linked to their items, and the model reads the answer off the graph.
    kg, _ = read_graph([str(g)])
    labels = load_labels(kg, TrainConfig(graph=[str(g)], target=CLS))
    for name in ("train", "valid", "test"):
        split = labels.split(name)
        rows = [f"{kg.entities[n]}\t{labels.class_names[c]}" for n, c in zip(split.nodes, split.classes)]
        (tmp_path / f"{name}.tsv").write_text("\n".join(rows) + "\n")
    leaky = train(TrainConfig(train=str(tmp_path / "train.tsv"), valid=str(tmp_path / "valid.tsv"),
                              test=str(tmp_path / "test.tsv"), **common))
    assert leaky.metrics["test_accuracy"] >= 0.95
    assert honest.metrics["test_accuracy"] <= 0.75
