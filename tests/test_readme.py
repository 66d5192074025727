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


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("rdf2mm "):
                commands.append(line)
    return commands


def test_readme_has_commands():
    cmds = readme_commands()
    assert any(c.startswith("rdf2mm train") for c in cmds) and any(c.startswith("rdf2mm export") for c in cmds)


def test_every_readme_command_runs(tmp_path: Path):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {**os.environ, "RDF2MM_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    for command in readme_commands():
        argv = [sys.executable, "-m", "rdf2mm", *shlex.split(command)[1:]]
        proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
        if proc.returncode != 0:
            pytest.fail(f"README command failed ({proc.returncode}): {command}\n{proc.stderr[-1500:]}")
