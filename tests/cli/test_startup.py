"""A quick start: the commands that do not train never import torch.

Each command runs in a fresh interpreter (``python -c``) through the real CLI entry
point; afterwards the child reports its exit code and which heavy modules ended up in
``sys.modules``. Counting modules, not seconds: wall time is for bench/bench_startup.py.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_export import make_fake_run

ROOT = Path(__file__).resolve().parents[2]
MUSEUM = ROOT / "examples" / "museum.ttl"

#: never needed by a command that does not train (torch_geometric and
#: sentence_transformers come with torch; rdflib only where pyoxigraph cannot read;
#: pydantic only where Typer must convert a value, e.g. a path: see rdf2mm.cli.coercion)
HEAVY = ("torch", "torch_geometric", "sentence_transformers", "transformers", "rdflib", "pydantic")

_CHILD = """
import json, sys
sys.argv = ["rdf2mm", *json.loads(sys.argv[1])]
from rdf2mm.cli import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
sys.stderr.write("STARTUP " + json.dumps({"code": code, "loaded": sorted(
    m for m in sys.modules if m.split(".")[0] in HEAVY)}) + "\\n")
"""


def run_cli(args: list[str], cwd: Path, tmp: Path) -> dict:
    """Run ``rdf2mm ARGS`` in a fresh interpreter: its exit code and the heavy modules it imported."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", RDF2MM_CACHE=str(tmp / "cache"),
               NO_COLOR="1", COLUMNS="100")
    code = f"HEAVY = {HEAVY!r}\n" + _CHILD
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("STARTUP ")]
    assert lines, f"rdf2mm {' '.join(args)} died: {proc.stderr[-2000:]}"
    report = json.loads(lines[-1][len("STARTUP "):])
    report["stdout"] = proc.stdout
    report["stderr"] = proc.stderr
    return report


def assert_light(args: list[str], cwd: Path, tmp: Path, allow: tuple[str, ...] = ()) -> dict:
    report = run_cli(args, cwd, tmp)
    assert report["code"] == 0, f"rdf2mm {' '.join(args)} exited {report['code']}: {report['stderr'][-2000:]}"
    loaded = [m for m in report["loaded"] if m.split(".")[0] not in allow]
    assert loaded == [], f"rdf2mm {' '.join(args)} imported {loaded[:8]}"
    return report


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    """A run directory (no training needed) and a store holding its export."""
    tmp = tmp_path_factory.mktemp("startup")
    run_dir = make_fake_run(tmp / "run")
    store = tmp / "results.oxigraph"
    from rdf2mm.export import export_run

    export_run(run_dir, (), None, store=str(store))
    return {"tmp": tmp, "run": run_dir, "store": store}


COMMANDS = ["inspect", "generate", "train", "predict", "encode", "export", "query", "similar", "config", "ablate",
            "report", "tune"]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_never_imports_torch(command, tmp_path):
    report = assert_light([command, "--help"] if command else ["--help"], ROOT, tmp_path)
    assert "Usage" in report["stdout"]


def test_inspect_reads_and_validates_without_torch(tmp_path):
    report = assert_light(["inspect", str(MUSEUM), "--json"], ROOT, tmp_path)
    counts = json.loads(report["stdout"])
    assert counts["triples"] > 0 and counts["literals"]["by_modality"]["temporal"] > 0


def test_inspect_of_every_modality_without_torch(tmp_path):
    """Images, geometries, text, dates, numbers and booleans: each is parsed and validated."""
    from rdf2mm.synthetic import generate

    ds = generate(tmp_path / "synth", triples=2000, seed=1, ill_typed=0.05, max_images=20)
    report = assert_light(["inspect", str(ds.graph_path), "--json"], ROOT, tmp_path)
    counts = json.loads(report["stdout"])
    by_modality = counts["literals"]["by_modality"]
    assert all(by_modality[m] > 0 for m in ("numeric", "temporal", "textual", "visual", "spatial", "boolean"))
    assert counts["ill_typed"]["total"] > 0  # validated, not skipped


def test_generate_without_torch(tmp_path):
    # its DIR argument is a path, which Typer converts with pydantic
    assert_light(["generate", str(tmp_path / "g"), "--triples", "1000", "--max-images", "5", "--json"], ROOT, tmp_path,
                 allow=("pydantic",))
    assert (tmp_path / "g" / "graph.nt").stat().st_size > 0


def test_config_example_without_torch(tmp_path):
    report = assert_light(["config", "--example"], ROOT, tmp_path)
    assert "epochs" in report["stdout"]


@pytest.mark.parametrize("output", ["parquet", "ttl", "nt", "parquet,ttl,nt"])
def test_export_files_without_torch(output, exported, tmp_path):
    out = tmp_path / "out"
    assert_light(["export", str(exported["run"]), "--output", output, "--out", str(out), "--json"], ROOT, tmp_path)
    written = {p.suffix for p in out.iterdir()}
    assert {"." + o for o in output.split(",")} <= written


def test_query_and_similar_without_torch(exported, tmp_path):
    store = str(exported["store"])
    report = assert_light(["query", store, "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }", "--json"],
                          ROOT, tmp_path)
    assert int(json.loads(report["stdout"])["results"]["bindings"][0]["n"]["value"]) > 0
    report = assert_light(["similar", store, "http://ex.org/e3", "--top", "3", "--json"], ROOT, tmp_path)
    neighbours = json.loads(report["stdout"])["neighbours"]
    assert len(neighbours) == 3 and all(-1.0 <= n["score"] <= 1.0 for n in neighbours)


def test_values_are_still_converted_and_checked(tmp_path):
    """Skipping Typer's adapters for plain values changes no result and no error."""
    report = assert_light(["inspect", str(MUSEUM), "--json", "--top", "2"], ROOT, tmp_path)
    assert len(json.loads(report["stdout"])["top_predicates"]) == 2
    for bad in ("two", "3e0"):
        report = run_cli(["inspect", str(MUSEUM), "--json", "--top", bad], ROOT, tmp_path)
        assert report["code"] == 2 and "--top" in report["stderr"], report["stderr"][-500:]
    # what Typer (through pydantic) accepts, as before: "+3", and "007", "2.0", "1_0" by its adapter
    for text, n in (("+3", 3), ("007", 7), ("2.0", 2), ("1_0", 10)):
        report = run_cli(["inspect", str(MUSEUM), "--json", "--top", text], ROOT, tmp_path)
        assert report["code"] == 0 and len(json.loads(report["stdout"])["top_predicates"]) == n, text


def test_train_still_imports_torch(tmp_path):
    """The check is real: the same harness sees torch where a command does need it."""
    report = run_cli(["train", str(MUSEUM), "--target", "http://example.org/museum#movement", "--epochs", "1",
                      "--seeds", "1", "--out", str(tmp_path / "run")], ROOT, tmp_path)
    assert report["code"] == 0, report["stderr"][-2000:]
    assert "torch" in report["loaded"]
