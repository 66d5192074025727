"""Every `rdf2mm` command shown in the README runs, in order, and exits 0."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


TORCHRUN = ".venv/bin/torchrun "


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith(("rdf2mm ", TORCHRUN)):
                commands.append(line)
    return commands


def test_readme_has_commands():
    cmds = readme_commands()
    assert any(c.startswith("rdf2mm train") for c in cmds) and any(c.startswith("rdf2mm export") for c in cmds)


def test_every_readme_command_runs(tmp_path: Path):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {**os.environ, "RDF2MM_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    (tmp_path / "out").mkdir()
    for command in readme_commands():
        words = shlex.split(command)
        target = None
        if ">" in words:  # `rdf2mm ... > file`
            words, target = words[: words.index(">")], words[words.index(">") + 1]
        if command.startswith(TORCHRUN):  # the launcher from the same environment
            argv = [sys.executable, "-m", "torch.distributed.run", *words[1:]]
        else:
            argv = [sys.executable, "-m", "rdf2mm", *words[1:]]
        proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
        if proc.returncode != 0:
            pytest.fail(f"README command failed ({proc.returncode}): {command}\n{proc.stderr[-1500:]}")
        if target:
            (tmp_path / target).write_text(proc.stdout)


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
