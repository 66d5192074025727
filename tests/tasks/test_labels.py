"""Label files and target predicates: formats, unknown nodes, one class, stratified split."""
from __future__ import annotations

import pyoxigraph as ox
import pytest

from rdf2mm.errors import DataError, InputError
from rdf2mm.graph.build import build_graph
from rdf2mm.tasks.labels import labels_from_files, labels_from_target, read_label_file

NT = "\n".join(
    f"<http://e/i{i}> <http://e/cls> <http://e/c{i % 2}> .\n<http://e/i{i}> <http://e/near> <http://e/i{(i + 1) % 20}> ."
    for i in range(20)
).encode()


def kg():
    return build_graph([ox.parse(input=NT, format=ox.RdfFormat.N_TRIPLES)])


def test_target_split_is_stratified_and_disjoint():
    labels = labels_from_target(kg(), "http://e/cls", (0.5, 0.25, 0.25), seed=3)
    assert labels.class_names == ["<http://e/c0>", "<http://e/c1>"]
    sizes = [len(labels.train), len(labels.valid), len(labels.test)]
    assert sum(sizes) == 20 and sizes[0] == 10
    for split in (labels.train, labels.valid, labels.test):
        # each class equally represented (10 per class, split 5/2or3/2or3)
        counts = [int((split.classes == c).sum()) for c in (0, 1)]
        assert abs(counts[0] - counts[1]) <= 1
    all_nodes = [*labels.train.nodes, *labels.valid.nodes, *labels.test.nodes]
    assert len(set(all_nodes)) == 20
    assert labels.target_predicates == ["http://e/cls"]


def test_absent_target_is_a_data_error():
    with pytest.raises(DataError, match="does not occur"):
        labels_from_target(kg(), "http://e/nope")


def test_tsv_and_nt_label_files(tmp_path):
    (tmp_path / "train.tsv").write_text("entity\tclass\n" + "".join(f"http://e/i{i}\tc{i % 2}\n" for i in range(10)))
    (tmp_path / "test.csv").write_text("".join(f"<http://e/i{i}>,c{i % 2}\n" for i in range(10, 14)) + "http://e/unknown,c0\n")
    labels = labels_from_files(kg(), tmp_path / "train.tsv", None, tmp_path / "test.csv")
    assert len(labels.train) == 10 and len(labels.test) == 4
    assert labels.report["unknown_entities"] == {"test": 1}
    pairs, preds = read_label_file(tmp_path / "train.tsv")
    assert pairs[0] == ("<http://e/i0>", "c0") and preds == set()


def test_one_class_only_and_all_unknown(tmp_path):
    (tmp_path / "one.tsv").write_text("".join(f"http://e/i{i}\tc0\n" for i in range(5)))
    with pytest.raises(DataError, match="only one class"):
        labels_from_files(kg(), tmp_path / "one.tsv", None, None)
    (tmp_path / "none.tsv").write_text("http://x/a\tc0\nhttp://x/b\tc1\n")
    with pytest.raises(DataError, match="no training label"):
        labels_from_files(kg(), tmp_path / "none.tsv", None, None)
    with pytest.raises(InputError, match="not found"):
        labels_from_files(kg(), tmp_path / "missing.nt", None, None)


def _graph(lines: list[str]):
    return build_graph([ox.parse(input="\n".join(lines).encode(), format=ox.RdfFormat.N_TRIPLES)])


def test_misspelled_target_suggests_the_closest_predicates():
    with pytest.raises(DataError, match=r"did you mean <http://e/cls>\?"):
        labels_from_target(kg(), "http://e/clss")
    # the local name decides, not the namespace every predicate shares
    assert kg().closest_relations("http://e/naer")[0] == "http://e/near"
    assert kg().closest_relations("http://e/zzzzzz") == []


def test_literal_valued_target_is_a_data_error():
    g = _graph([f'<http://e/i{i}> <http://e/year> "{1900 + i}"^^<http://www.w3.org/2001/XMLSchema#integer> .'
                for i in range(6)] + ["<http://e/i0> <http://e/near> <http://e/i1> ."])
    with pytest.raises(DataError, match=r"literal objects \(6 of 6 triples.*6 classes, 6 of them with a single entity"):
        labels_from_target(g, "http://e/year")


def test_repeated_literal_classes_are_fine():
    # literal objects are classes when they repeat ("cat", "dog"): only singletons stop the run
    g = _graph([f'<http://e/i{i}> <http://e/kind> "{("cat", "dog")[i % 2]}" .' for i in range(60)])
    labels = labels_from_target(g, "http://e/kind")
    assert labels.num_classes == 2 and not labels.warnings


def test_one_member_class_is_a_data_error():
    lines = [f"<http://e/i{i}> <http://e/cls> <http://e/c{i % 2}> ." for i in range(10)]
    lines.append("<http://e/i10> <http://e/cls> <http://e/rare> .")
    with pytest.raises(DataError, match=r"1 of the 3 classes of <http://e/cls> have a single entity \(<http://e/rare>\)"):
        labels_from_target(_graph(lines), "http://e/cls")


def test_tiny_and_empty_splits_are_warned_about_with_their_sizes():
    lines = [f"<http://e/i{i}> <http://e/cls> <http://e/c{i % 2}> ." for i in range(4)]
    labels = labels_from_target(_graph(lines), "http://e/cls")
    sizes = [len(labels.train), len(labels.valid), len(labels.test)]
    assert sizes == [2, 0, 2]
    assert labels.warnings == [
        "the valid split is empty (train 2, valid 0, test 2 labelled entities): no early stopping or model "
        "selection on validation",
        "the test split has only 2 entities (train 2, valid 0, test 2 labelled entities): its accuracy moves in "
        "steps of 0.50",
    ]
    # enough of everything: no warnings
    lines = [f"<http://e/i{i}> <http://e/cls> <http://e/c{i % 2}> ." for i in range(60)]
    assert labels_from_target(_graph(lines), "http://e/cls").warnings == []


def test_label_file_class_with_one_member_is_warned_about(tmp_path):
    (tmp_path / "train.tsv").write_text("".join(f"http://e/i{i}\tc{i % 2}\n" for i in range(12)) + "http://e/i12\trare\n")
    labels = labels_from_files(kg(), tmp_path / "train.tsv", None, None)
    assert "1 of the 3 classes have a single labelled entity (rare)" in labels.warnings
