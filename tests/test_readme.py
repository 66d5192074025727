"""Every `rdf2mm` command and Python snippet in the README runs, in order, and succeeds.

One test per step (``README step NN: <command>``), each with its own time budget, so a
slow machine fails the step that was slow, by name, instead of the whole walkthrough.
The steps share one folder (with ``examples/`` linked in) and run in README order, so a
step finds what the earlier ones wrote, as a reader following the README would.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

TORCHRUN = ".venv/bin/torchrun "
#: seconds one README step may take (the longest take about a minute on a loaded 2-core machine)
STEP_TIMEOUT = 300


@dataclass(frozen=True)
class Step:
    kind: str  # "command" or "python"
    text: str

    @property
    def name(self) -> str:
        first = self.text.strip().splitlines()[0] if self.kind == "python" else self.text
        return first if len(first) <= 70 else first[:67] + "..."


def readme_steps() -> list[Step]:
    """The README's ```bash command lines (rdf2mm, torchrun) and ```python blocks, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    steps = []
    for lang, block in re.findall(r"```(bash|python)\n(.*?)```", text, re.S):
        if lang == "python":
            steps.append(Step("python", block))
            continue
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith(("rdf2mm ", TORCHRUN)):
                steps.append(Step("command", line))
    return steps


def readme_commands() -> list[str]:
    return [s.text for s in readme_steps() if s.kind == "command"]


def step_argv(step: Step) -> tuple[list[str], str | None]:
    """The process a step runs (this interpreter's ``rdf2mm``, ``torchrun`` or ``python -c``)
    and the file its stdout is redirected to, if any."""
    if step.kind == "python":
        return [sys.executable, "-c", step.text], None
    words = shlex.split(step.text)
    target = None
    if ">" in words:  # `rdf2mm ... > file`
        words, target = words[: words.index(">")], words[words.index(">") + 1]
    if step.text.startswith(TORCHRUN):  # the launcher from the same environment
        return [sys.executable, "-m", "torch.distributed.run", *words[1:]], target
    return [sys.executable, "-m", "rdf2mm", *words[1:]], target


STEPS = readme_steps()


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The folder every step runs in, and their environment."""
    root = tmp_path_factory.mktemp("readme")
    (root / "examples").symlink_to(ROOT / "examples")
    (root / "out").mkdir()
    env = {**os.environ, "RDF2MM_CACHE": str(root / "cache"), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT)}
    return root, env


def test_readme_has_commands_and_a_snippet():
    cmds = readme_commands()
    assert any(c.startswith("rdf2mm train") for c in cmds) and any(c.startswith("rdf2mm export") for c in cmds)
    assert any(s.kind == "python" for s in STEPS)


@pytest.mark.timeout(STEP_TIMEOUT + 60)
@pytest.mark.parametrize("step", STEPS, ids=[f"{i:02d} {s.name}" for i, s in enumerate(STEPS, 1)])
def test_readme_step(step: Step, walkthrough):
    root, env = walkthrough
    argv, target = step_argv(step)
    try:
        proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, env=env, timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"README {step.kind} took over {STEP_TIMEOUT} s: {step.name}")
    if proc.returncode != 0:
        pytest.fail(f"README {step.kind} failed ({proc.returncode}): {step.text}\n{proc.stderr[-1500:]}")
    if target:
        (root / target).write_text(proc.stdout)


# The README's claims about what its walkthroughs show, checked on the outputs the steps
# above wrote (they run first: pytest keeps a file's order).
SYNTH = "http://example.org/rdf2mm/synth#"


def _readme_output(root: Path, rel: str) -> Path:
    path = root / rel
    if not path.exists():
        pytest.fail(f"{rel} is missing: the README step that writes it failed or changed")
    return path


def test_readme_ablation_shows_what_the_literals_add(walkthrough):
    import json

    root, _ = walkthrough
    cells = {c["config"]: c for c in json.loads(_readme_output(root, "runs/ablate-museum/ablation.json").read_text())["cells"]}
    structure, every = cells["none"], cells["all"]
    assert structure["test_accuracy"] >= 1 / 3  # three balanced classes
    assert every["test_accuracy"] >= structure["test_accuracy"] + 0.20
    assert every["p_value"] < 0.05
    assert all(c["test_accuracy"] < 1.0 for c in cells.values())  # no single modality has it all
    # the shuffled control: the literals given to the wrong works lose what they added
    control = cells["shuffled"]
    assert every["test_accuracy"] >= control["test_accuracy"] + 0.20 and every["p_value_shuffled"] < 0.05
    assert control["test_accuracy"] <= structure["test_accuracy"] + 0.05


def test_readme_ablation_of_several_models_shares_the_plain_run(walkthrough):
    import json

    root, _ = walkthrough
    summary = json.loads(_readme_output(root, "runs/ablate-models/ablation.json").read_text())
    cells = {(c["model"], c["config"]): c for c in summary["cells"]}
    assert summary["models"] == ["literale", "vlkge", "distmult"]
    # one DistMult run is every model's structure only
    assert {c["dir"] for c in summary["cells"] if c["config"] == "none"} == {"distmult-none"}
    for model in ("literale", "vlkge"):  # the planted number is what predicts the tails
        assert cells[(model, "numeric")]["test_mrr"] > cells[(model, "none")]["test_mrr"] + 0.05


def test_readme_link_prediction_learns_and_predicts_the_right_kind(walkthrough):
    import json

    root, env = walkthrough
    metrics = json.loads(_readme_output(root, "runs/lp/metrics.json").read_text())
    assert metrics["test_mrr"] >= 5 * metrics["test_mrr_random"]
    proc = subprocess.run([sys.executable, "-m", "rdf2mm", "--quiet", "predict", "runs/lp", "--head", SYNTH + "item_0",
                           "--relation", SYNTH + "inGroup", "--top", "5", "--json"], cwd=root, capture_output=True,
                          text=True, env=env, timeout=STEP_TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    top = [c["iri"] for c in answer["candidates"]]
    assert len(top) == 5 and all(iri.startswith(SYNTH + "group_") for iri in top)
    held_out = (root / "out/synth-lp/lp/valid.nt").read_text() + (root / "out/synth-lp/lp/test.nt").read_text()
    truth = [ln.split()[2].strip("<>") for ln in held_out.splitlines() if ln.startswith(f"<{SYNTH}item_0> <{SYNTH}inGroup>")]
    assert truth and truth[0] in top
    assert "entities of type" in answer["ranked"]


def test_pipeline_walkthrough_script(tmp_path):
    """examples/pipeline.sh, as the README runs it: JSON outputs, exit code 0."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "rdf2mm").write_text(f"#!/bin/sh\nexec {sys.executable} -m rdf2mm \"$@\"\n")
    (bindir / "rdf2mm").chmod(0o755)
    env = {**os.environ, "PATH": f"{bindir}:{os.environ.get('PATH', '')}", "RDF2MM_CACHE": str(tmp_path / "c"),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(["bash", "examples/pipeline.sh", "examples/museum.ttl", "out/nightly"], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout
    import json

    assert json.loads((tmp_path / "out/nightly/metrics.json").read_text())["run_dir"] == "out/nightly/run"
    assert (tmp_path / "out/nightly/export/embeddings.parquet").is_file()
    # a bad graph stops the script with rdf2mm's input-error code
    (tmp_path / "bad.ttl").write_text("this is not turtle")
    bad = subprocess.run(["bash", "examples/pipeline.sh", "bad.ttl", "out/bad"], cwd=tmp_path, capture_output=True,
                         text=True, env=env, timeout=600)
    assert bad.returncode == 3 and "error:" in bad.stderr
