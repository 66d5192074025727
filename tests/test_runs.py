"""Run directories: default names never collide; both tasks write and read them through
one owner (rdf2mm.runs), whose layout names every file once."""
from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

from rdf2mm.runs import claim_run_dir, layout as L, release_run_dir


def test_runs_started_in_the_same_second_get_their_own_directories(tmp_path):
    now = dt.datetime(2026, 11, 22, 10, 0, 0)
    first = claim_run_dir(tmp_path, "node-classification", now)
    second = claim_run_dir(tmp_path, "node-classification", now)
    assert first.name == "20261122-100000-node-classification"
    assert second.name == "20261122-100000-node-classification-2"
    assert first.is_dir() and second.is_dir()
    # a name whose checkpoint folder is left over from an interrupted run is not reused
    (tmp_path / "20261122-100000-node-classification-3.checkpoint").mkdir()
    assert claim_run_dir(tmp_path, "node-classification", now).name.endswith("-4")


def test_release_removes_only_empty_directories(tmp_path):
    root = tmp_path / "runs"
    claimed = claim_run_dir(root, "node-classification")
    release_run_dir(claimed, remove_root=True)
    assert not root.exists()
    # a run directory that holds a result is kept, and so is its root
    claimed = claim_run_dir(root, "node-classification")
    (claimed / "metrics.json").write_text("{}")
    release_run_dir(claimed, remove_root=True)
    assert (claimed / "metrics.json").exists()
    # an empty claim is removed, but a root holding other runs stays
    other = claim_run_dir(root, "link-prediction")
    release_run_dir(other, remove_root=True)
    assert not other.exists() and claimed.exists()


# ------------------------------------------------------------------ one owner of the run directory
PACKAGE = Path(__file__).resolve().parents[1] / "rdf2mm"
EX = "http://example.org/runs#"


def _nc_graph(path: Path) -> Path:
    """A tiny typed graph of items in two classes (``kind``), four of them unlabelled."""
    lines, labels = [], []
    for i in range(24):
        cls = "A" if i % 2 else "B"
        lines.append(f"<{EX}item{i}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{EX}Item> .")
        lines.append(f"<{EX}item{i}> <{EX}near> <{EX}hub{cls}> .")
        lines.append(f"<{EX}item{i}> <{EX}next> <{EX}item{(i + 2) % 24}> .")
        if i < 20:
            labels.append(f"<{EX}item{i}> <{EX}kind> <{EX}{cls}> .")
    for i in range(24, 28):  # unlabelled items: predictions.tsv lists them too
        lines.append(f"<{EX}item{i}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{EX}Item> .")
        lines.append(f"<{EX}item{i}> <{EX}near> <{EX}hubA> .")
    path.write_text("\n".join(lines + labels) + "\n")
    return path


def _lp_graph(path: Path) -> Path:
    """A tiny graph of entities in three groups that know each other."""
    lines = [f"<{EX}e{i}> <{EX}memberOf> <{EX}g{i % 3}> ." for i in range(18)]
    lines += [f"<{EX}e{i}> <{EX}knows> <{EX}e{(i + 3) % 18}> ." for i in range(18)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """One node-classification run (TSV tables) and one link-prediction run (Parquet tables)."""
    from rdf2mm.config import TrainConfig
    from rdf2mm.pipeline import train

    tmp = tmp_path_factory.mktemp("runs")
    graph = _nc_graph(tmp / "nc.nt")
    common = dict(epochs=3, modalities="none", literals="none", device="cpu", amp=False, embed_dim=8, hidden=8)
    nc = train(TrainConfig(graph=[str(graph)], target=f"{EX}kind", out=str(tmp / "nc"), **common))
    lp = train(TrainConfig(graph=[str(_lp_graph(tmp / "lp.nt"))], task="link-prediction", out=str(tmp / "lp"),
                           predictions_format="parquet", **common))
    assert nc.run_dir is not None and lp.run_dir is not None
    return {"node-classification": (Path(nc.run_dir), "tsv"), "link-prediction": (Path(lp.run_dir), "parquet")}


@pytest.mark.parametrize("task", sorted(L.TASK_TABLES))
def test_each_task_writes_exactly_the_files_the_layout_declares(runs, task):
    from rdf2mm.io.targets import is_run_dir

    folder, fmt = runs[task]
    assert {p.name for p in folder.iterdir()} == L.run_files(task, fmt)
    assert L.run_files(task, fmt) <= L.RUN_DIR_NAMES
    assert is_run_dir(folder)


@pytest.mark.parametrize("task", sorted(L.TASK_TABLES))
def test_the_one_reader_reads_both_tasks_runs(runs, task):
    from rdf2mm.export import load_run
    from rdf2mm.runs import RunFiles, load_model_state, load_run_config

    folder, _ = runs[task]
    run = RunFiles(folder)
    assert run.config()["task"] == run.metrics()["task"] == run.model_meta()["task"] == task
    assert run.metrics()["kept_seed"] == run.model_meta()["seed"]
    assert "rdf2mm" in run.provenance()["versions"]
    assert "datatypes" in run.literals()
    assert {"seed", "epoch"} <= set(run.curve()[0])
    entities = run.entities()
    assert run.embeddings()["entity"].shape[0] == len(entities)
    table = run.table(L.TASK_TABLES[task])
    assert table and all(len(col) == len(next(iter(table.values()))) for col in table.values())
    assert run.rows(L.TASK_TABLES[task])[0].keys() == table.keys()
    assert load_run_config(folder).task == task
    state, meta = load_model_state(folder)
    assert state and meta["task"] == task
    exported = load_run(folder)
    assert exported.entities == entities and exported.task == task


# The modules that read or write run directories name its files through rdf2mm.runs.layout only.
READERS_AND_WRITERS = ["runs", "export", "report", "tasks/prediction.py", "tasks/link_prediction.py",
                       "pipeline.py", "cli/predict.py", "tracking/base.py"]
# rdf2mm export's own folder holds a predictions.parquet of its own (rdf2mm.io.targets.EXPORT_NAMES)
NOT_RUN_FILES = {"export/parquet.py"}


def test_run_directory_file_names_are_spelled_once():
    names = set(L.COMMON_FILES) | {L.table_file(s, f) for s in (L.PREDICTIONS, L.RANKS, L.LINK_PREDICTIONS)
                                   for f in L.TABLE_FORMATS}
    files = []
    for entry in READERS_AND_WRITERS:
        path = PACKAGE / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    spelled = []
    for path in files:
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "runs/layout.py" or rel in NOT_RUN_FILES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in names:
                spelled.append(f"{rel}:{node.lineno}: {node.value}")
    assert not spelled, spelled
