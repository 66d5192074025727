"""Node classification end to end on graphs whose answer is known."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from rdf2mm.errors import InputError
from rdf2mm.pipeline import train
from rdf2mm.tasks.prediction import predict_nodes
from rdf2mm.runs import load_model_state
from tests.conftest import EXAMPLES, label_config


def test_planted_modality_alone_learns_and_structure_only_is_at_chance(numeric_only):
    torch.set_num_threads(1)
    alone = train(label_config(numeric_only, modalities="numeric", epochs=100))
    structure = train(label_config(numeric_only, modalities="none", epochs=100))
    assert alone.metrics["test_accuracy"] >= 0.90
    assert structure.metrics["test_accuracy"] <= 0.70  # two balanced classes: chance is 0.5


def test_run_directory_and_prediction(numeric_only, tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    res = train(label_config(numeric_only, modalities="numeric", epochs=30, seeds=2, out=str(out)))
    for name in ("config.toml", "config.json", "provenance.json", "metrics.json", "curve.csv", "predictions.tsv",
                 "literals.json", "model.safetensors", "model.json", "entities.parquet", "embeddings.safetensors"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["seeds"] == 2 and len(metrics["per_seed"]) == 2
    assert metrics["test_accuracy"] == pytest.approx(res.metrics["test_accuracy"])
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["data_fingerprint"] and prov["seeds"] == [0, 1] and prov["versions"]["torch"]
    # predictions on the labelled test nodes agree with the reported accuracy of the kept seed
    lines = (out / "predictions.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"))) for line in lines[1:]]
    test_rows = [r for r in rows if r["split"] == "test"]
    kept = metrics["per_seed"][[0, 1].index(metrics["kept_seed"])]
    acc = sum(r["true_class"] == r["predicted_class"] for r in test_rows) / len(test_rows)
    assert acc == pytest.approx(kept["test_accuracy"])
    # predict reproduces the run's own predictions from the saved weights
    terms = [r["entity"] for r in test_rows[:5]]
    again = predict_nodes(out, nodes=terms, device="cpu")
    assert [p["predicted_class"] for p in again] == [r["predicted_class"] for r in test_rows[:5]]


def test_same_seed_same_result_on_cpu(numeric_only):
    torch.set_num_threads(1)
    a = train(label_config(numeric_only, modalities="numeric,temporal", epochs=8, patience=100))
    b = train(label_config(numeric_only, modalities="numeric,temporal", epochs=8, patience=100))
    assert a.per_seed[0]["test_accuracy"] == b.per_seed[0]["test_accuracy"]
    assert a.per_seed[0]["valid_accuracy"] == b.per_seed[0]["valid_accuracy"]


def test_tampered_checkpoint_is_refused(numeric_only, tmp_path):
    out = tmp_path / "run"
    train(label_config(numeric_only, modalities="none", epochs=2, out=str(out)))
    load_model_state(out)  # loads fine as written
    # a pickle payload in place of the safetensors file must not be executed, only refused
    marker = tmp_path / "pwned"
    payload = (b"\x80\x04\x95" + b"cos\nsystem\n(V" + f"touch {marker}".encode() + b"\ntR.")
    (out / "model.safetensors").write_bytes(payload)
    with pytest.raises(InputError, match="corrupt or unreadable weights file"):
        load_model_state(out)
    assert not marker.exists()


def test_readme_main_command_learns_the_museum(tmp_path):
    """The README's first command: train on the shipped example; its classes are learnable."""
    out = tmp_path / "museum"
    proc = subprocess.run(
        [sys.executable, "-m", "rdf2mm", "--quiet", "train", str(EXAMPLES / "museum.ttl"),
         "--target", "http://example.org/museum#movement", "--out", str(out), "--json"],
        capture_output=True, text=True, env={"PATH": "", "OMP_NUM_THREADS": "1", "RDF2MM_CACHE": str(tmp_path / "c")},
    )
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)
    assert metrics["run_dir"] == str(out)
    assert metrics["test_accuracy"] > 0.6  # three balanced classes: chance is 1/3


def _count_graph(folder, groups: int = 200, seed: int = 0):
    """Groups whose class is how many parts they have (2-3 or 6-7), drawn from one pool of
    parts: the answer is a count, invisible to a per-relation mean."""
    import random

    from rdf2mm.config import TrainConfig

    rng = random.Random(seed)
    ex = "http://example.org/count#"
    lines, labels = [], []
    for g in range(groups):
        big = g % 2 == 1
        for p in rng.sample(range(30), rng.choice((6, 7) if big else (2, 3))):
            lines.append(f"<{ex}g{g}> <{ex}hasPart> <{ex}part{p}> .")
        labels.append(f"<{ex}g{g}> <{ex}size> <{ex}{'big' if big else 'small'}> .")
    rng.shuffle(labels)
    (folder / "graph.nt").write_text("\n".join(lines) + "\n")
    n = len(labels)
    parts = {"train": labels[: n // 2], "valid": labels[n // 2 : 3 * n // 4], "test": labels[3 * n // 4 :]}
    for name, rows in parts.items():
        (folder / f"{name}.nt").write_text("\n".join(rows) + "\n")
    # Stronger weight decay keeps the groups' own free vectors from memorising the labels.
    base = {"graph": [str(folder / "graph.nt")], "device": "cpu", "epochs": 100, "weight_decay": 5e-3,
            **{k: str(folder / f"{k}.nt") for k in parts}}
    return lambda **kw: TrainConfig(**{**base, **kw})


def test_sum_aggregation_learns_a_count_that_the_mean_cannot(tmp_path):
    torch.set_num_threads(1)
    config = _count_graph(tmp_path)
    summed = train(config(aggregation="sum", out=str(tmp_path / "run")))
    mean = train(config(aggregation="mean"))
    assert summed.metrics["test_accuracy"] >= 0.85  # measured 0.92-0.96 over seeds 0-2
    assert mean.metrics["test_accuracy"] <= 0.65  # balanced classes: chance is 0.5; measured 0.38-0.48
    assert json.loads((tmp_path / "run" / "config.json").read_text())["aggregation"] == "sum"
    assert "aggregation_selection" not in summed.metrics  # one aggregation asked for: nothing chosen


def test_auto_aggregation_keeps_the_one_that_wins_on_validation(tmp_path):
    """The default, auto, trains with sum and with mean and keeps the better on validation:
    on a graph whose classes are counts that is the sum, and predict rebuilds it. The sum
    leads clearly after the first seed, so the second seed trains the sum only."""
    torch.set_num_threads(1)
    config = _count_graph(tmp_path)
    run = tmp_path / "run"
    seen: list[tuple[str, dict]] = []
    result = train(config(out=str(run), seeds=2), lambda stage, data: seen.append((stage, data)))
    sel = result.metrics["aggregation_selection"]
    assert set(sel) == {"sum", "mean"}
    assert result.metrics["aggregation"] == "sum"
    assert sel["sum"]["valid_accuracy"] > sel["mean"]["valid_accuracy"]
    assert result.metrics["test_accuracy"] >= 0.85
    assert result.metrics["aggregation_seeds_compared"] == 1
    # The figures are the kept candidate's, and its seeds were scored on the same splits.
    assert result.per_seed[0]["valid_accuracy"] == pytest.approx(sel["sum"]["valid_accuracy"])
    # While the candidates are compared, progress shows validation only, never test.
    compared = [d for s, d in seen if s == "candidate_seed_done"]
    assert len(compared) == 2 and not any(k.startswith("test_") for d in compared for k in d)
    trained = [(d["seed"], d["aggregation"]) for s, d in seen if s == "seed"]
    assert trained == [(0, "mean"), (0, "sum"), (1, "sum")]
    assert json.loads((run / "config.json").read_text())["aggregation"] == "auto"
    assert json.loads((run / "model.json").read_text())["aggregation"] == "sum"
    # predict must rebuild the kept model with the aggregation it was trained with.
    saved = {}
    with open(run / "predictions.tsv") as fh:
        next(fh)
        for line in fh:
            entity, _split, _true, predicted, score = line.rstrip("\n").split("\t")
            saved[entity] = (predicted, float(score))
    rows = predict_nodes(run, nodes=[e.strip("<>") for e in saved], device="cpu")
    assert len(rows) == len(saved)
    for row in rows:
        predicted, score = saved[row["entity"]]
        assert row["predicted_class"] == predicted
        assert row["score"] == pytest.approx(score, abs=1e-5)


def test_auto_aggregation_without_validation_labels_uses_the_sum(tmp_path):
    torch.set_num_threads(1)
    config = _count_graph(tmp_path)
    seen: list[str] = []
    result = train(config(valid=None, epochs=20), lambda stage, _data: seen.append(stage))
    assert result.metrics["aggregation"] == "sum"
    assert "no validation labels" in result.metrics["aggregation_selection"]["skipped"]
    assert "candidate" not in seen and seen.count("seed") == 1
