"""`rdf2mm config --example` prints a TOML template that `train --config` accepts."""
from __future__ import annotations

import dataclasses
import re
import tomllib

from typer.testing import CliRunner

from rdf2mm.cli import app
from rdf2mm.cli.config import describe
from rdf2mm.config import TASK_DEFAULTS, TrainConfig, _toml_value, load_config_file
from tests.conftest import EXAMPLES

runner = CliRunner()
TARGET = "http://example.org/museum#movement"


def _example() -> str:
    r = runner.invoke(app, ["config", "--example"])
    assert r.exit_code == 0, r.output
    return r.stdout


def test_example_parses_and_names_every_field():
    text = _example()
    data = tomllib.loads(text)
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    for name in names:
        assert re.search(rf"^(# )?{name} =", text, re.M), name
        comment = f"# {describe(name)}"
        assert comment.strip() != f"# {name.replace('_', ' ')}", f"no description for {name}"
        assert re.search(rf"^{re.escape(comment)}\n(# )?{name} =", text, re.M), name
    defaults = TrainConfig()
    for key, value in data.items():
        if key in ("graph", "split"):
            continue
        assert getattr(defaults, key) == value, key
    # task-dependent defaults are shown for both tasks
    for key, value in TASK_DEFAULTS["link-prediction"].items():
        line = next(ln for ln in text.splitlines() if ln.startswith(f"# {key} = "))
        assert f"link-prediction: {_toml_value(value)}" in line, line


def test_example_loads_once_graph_is_filled(tmp_path):
    text = _example().replace("graph = []", f'graph = ["{EXAMPLES / "museum.ttl"}"]', 1)
    text = text.replace("# target = ", f'target = "{TARGET}"', 1)
    path = tmp_path / "train.toml"
    path.write_text(text)
    cfg = TrainConfig.from_dict(load_config_file(path), source=str(path))
    assert cfg.graph == [str(EXAMPLES / "museum.ttl")] and cfg.target == TARGET
    cfg.resolve().validate()
    assert cfg.embed_dim == TASK_DEFAULTS["node-classification"]["embed_dim"]


def test_config_without_option_is_a_usage_error():
    r = runner.invoke(app, ["config"])
    assert r.exit_code == 2 and "--example" in r.output
