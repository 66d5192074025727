"""Node classification with entity-table models, in two stages: each beats the majority
class on a graph whose class it can read (plain DistMult from structure, LiteralE from a
number), stage 1 never sees the label predicate, and the run directory predicts,
exports and reloads to the same predictions."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rdf2mm.cli import app
from rdf2mm.config import TrainConfig

EX = "http://example.org/nc#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def _graph(signal: str, items: int = 100, seed: int = 0) -> str:
    """Items of two balanced classes (``ex:hasClass``, the target), each ``ex:about`` two of
    eight topics and ``ex:knows`` two other items, with an ``ex:score`` number.

    ``signal="structure"``: an item's topics are four of its class's; the number is noise.
    ``signal="literal"``: the number tells the class; the topics and links are noise."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(items) % 2)
    lines = set()
    for i, c in enumerate(y.tolist()):
        item = f"<{EX}item{i}>"
        lines.add(f"{item} <{RDF_TYPE}> <{EX}Item> .")
        lines.add(f"{item} <{EX}hasClass> <{EX}class{c}> .")
        pool = np.arange(4) + 4 * c if signal == "structure" else np.arange(8)
        for t in rng.choice(pool, 2, replace=False).tolist():
            lines.add(f"{item} <{EX}about> <{EX}topic{t}> .")
        for j in rng.choice(items, 2, replace=False).tolist():
            if j != i:
                lines.add(f"{item} <{EX}knows> <{EX}item{j}> .")
        score = c * 2.0 + rng.random() if signal == "literal" else rng.random() * 3
        lines.add(f'{item} <{EX}score> "{score:.4f}"^^<{XSD}double> .')
    return "\n".join(sorted(lines)) + "\n"


def _cfg(graph: Path, model: str, out: Path | None = None, **kw) -> TrainConfig:
    base = dict(graph=[str(graph)], target=f"{EX}hasClass", model=model, device="cpu", cache=False,
                threads="1", epochs=60, seed=0, checkpoint_every=0, out=str(out) if out else None)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def structure_graph(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("nc") / "structure.nt"
    path.write_text(_graph("structure"))
    return path


@pytest.fixture(scope="module")
def literal_graph(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("nc") / "literal.nt"
    path.write_text(_graph("literal"))
    return path


@pytest.fixture(scope="module")
def distmult_run(structure_graph, tmp_path_factory):
    from rdf2mm.pipeline import train

    out = tmp_path_factory.mktemp("runs") / "distmult"
    return train(_cfg(structure_graph, "distmult", out))


def _majority(run_dir: Path) -> float:
    """The test accuracy of always predicting the commonest training class."""
    with open(run_dir / "predictions.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    train = [r["true_class"] for r in rows if r["split"] == "train"]
    top = max(set(train), key=train.count)
    test = [r["true_class"] for r in rows if r["split"] == "test"]
    return sum(c == top for c in test) / len(test)


def test_distmult_reads_the_class_from_structure(distmult_run):
    m, run_dir = distmult_run.metrics, distmult_run.run_dir
    assert _majority(run_dir) <= 0.6
    assert m["test_accuracy"] >= _majority(run_dir) + 0.3, m
    # the summary says both stages ran: stage 1 learned to rank held-out triples
    assert m["embedding_valid_mrr"] > 0.1 and m["embedding_epochs_run"] >= 1
    assert json.loads((run_dir / "config.json").read_text())["model"] == "distmult"


def test_literale_reads_the_class_from_a_number_plain_distmult_cannot(literal_graph, tmp_path):
    from rdf2mm.pipeline import train

    lit = train(_cfg(literal_graph, "literale", tmp_path / "literale", modalities="numeric"))
    assert lit.metrics["test_accuracy"] >= _majority(lit.run_dir) + 0.3, lit.metrics
    plain = train(_cfg(literal_graph, "distmult")).metrics
    assert lit.metrics["test_accuracy"] > plain["test_accuracy"] + 0.2, (lit.metrics, plain)


def test_stage_one_never_trains_on_the_label_predicate(structure_graph, monkeypatch):
    """The triples stage 1 trains and validates on hold no ``ex:hasClass`` triple, nor any
    (item, class) pair in either direction, while every other relation is there."""
    import rdf2mm.tasks.kge_classification as kc
    from rdf2mm.pipeline import train

    seen = []
    real = kc.train_link_predictor

    def spy(inputs, splits, *args, **kw):
        seen.append((inputs.kg, splits))
        return real(inputs, splits, *args, **kw)

    monkeypatch.setattr(kc, "train_link_predictor", spy)
    train(_cfg(structure_graph, "distmult", epochs=3, seeds=2))
    assert len(seen) == 2
    for kg, splits in seen:
        names = {kg.relations[r] for r in np.unique(np.concatenate([splits.train, splits.valid])[:, 1]).tolist()}
        assert names == {f"{EX}about", f"{EX}knows", RDF_TYPE}, names
        assert f"{EX}hasClass" not in kg.relations or not (
            kg.edges[:, 1] == kg.relations.index(f"{EX}hasClass")).any()
        classes = {i for i, e in enumerate(kg.entities) if e.startswith(f"<{EX}class")}
        rows = np.concatenate([splits.train, splits.valid])
        assert not np.isin(rows[:, [0, 2]], list(classes)).any()
        assert len(splits.test) == 0 and 0 < len(splits.valid) < 0.1 * len(splits.train)


def test_predict_reloads_the_run_to_the_same_predictions(distmult_run):
    from rdf2mm.tasks.prediction import predict_nodes

    run_dir = distmult_run.run_dir
    with open(run_dir / "predictions.tsv", newline="") as fh:
        written = {r["entity"]: r for r in csv.DictReader(fh, delimiter="\t")}
    items = [e for e in written if written[e]["split"] == "test"]
    got = predict_nodes(run_dir, nodes=items, device="cpu")
    assert [g["entity"] for g in got] == items
    for g in got:
        assert g["predicted_class"] == written[g["entity"]]["predicted_class"]
        assert g["score"] == pytest.approx(float(written[g["entity"]]["score"]), abs=1e-5)
    r = CliRunner().invoke(app, ["predict", str(run_dir), "--node", items[0], "--json", "--threads", "1"])
    assert r.exit_code == 0, r.output
    assert items[0] in r.output


def test_predict_refuses_a_graph_with_other_entities(distmult_run, tmp_path):
    other = tmp_path / "other.nt"
    other.write_text(_graph("structure", items=40, seed=5))
    r = CliRunner().invoke(app, ["predict", str(distmult_run.run_dir), str(other), "--threads", "1"])
    assert r.exit_code != 0 and "entities of the graph it was trained on" in r.output, r.output


def test_export_writes_the_embeddings_and_predictions(distmult_run, tmp_path):
    from rdf2mm.export import export_run, load_run

    data = load_run(distmult_run.run_dir)
    assert data.entity_embeddings.shape == (len(data.entities), 64)  # the entity table stage 1 trained
    assert data.predictions is not None and "predicted_class" in data.predictions
    summary = export_run(distmult_run.run_dir, "parquet,nt", tmp_path / "export")
    assert summary["counts"]["entities"] == len(data.entities)
    nt = next((tmp_path / "export").glob("*.nt")).read_text()
    assert "predictedClass" in nt


def test_a_seed_is_reproduced_exactly_and_the_hidden_layer_option_is_read(structure_graph):
    from rdf2mm.pipeline import train

    a = train(_cfg(structure_graph, "distmult", epochs=20)).per_seed[0]
    b = train(_cfg(structure_graph, "distmult", epochs=20)).per_seed[0]
    assert a["test_loss"] == b["test_loss"] and a["embedding_valid_mrr"] == b["embedding_valid_mrr"]
    h = train(_cfg(structure_graph, "distmult", epochs=20, classifier_hidden=16)).per_seed[0]
    assert h["embedding_valid_mrr"] == a["embedding_valid_mrr"] and h["test_loss"] != a["test_loss"]


def test_an_interrupted_run_resumes_to_the_straight_result(structure_graph, tmp_path, monkeypatch):
    """Seed 0 finished, seed 1 interrupted: ``resume`` reads seed 0 back from the checkpoint
    and trains seed 1, giving the figures of a run that was never interrupted."""
    import rdf2mm.tasks.kge_classification as kc
    from rdf2mm.pipeline import resume, train

    straight = train(_cfg(structure_graph, "distmult", tmp_path / "straight", epochs=15, seeds=2))
    real = kc.train_two_stage

    def interrupted(inputs, labels, cfg, seed, *args, **kw):
        if seed == 1:
            raise KeyboardInterrupt
        return real(inputs, labels, cfg, seed, *args, **kw)

    monkeypatch.setattr(kc, "train_two_stage", interrupted)
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(structure_graph, "distmult", out, epochs=15, seeds=2, checkpoint_every=5))
    monkeypatch.setattr(kc, "train_two_stage", real)
    again = resume(out)
    assert again.per_seed[0]["test_loss"] == straight.per_seed[0]["test_loss"]
    assert again.metrics["test_accuracy"] == straight.metrics["test_accuracy"]
    assert (out / "predictions.tsv").read_text() == (tmp_path / "straight" / "predictions.tsv").read_text()
