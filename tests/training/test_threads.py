"""``--threads N|auto``: the count training runs with, chosen from the problem size and the free cores."""
from __future__ import annotations

import json
import os

import pytest
import torch
from typer.testing import CliRunner

from rdf2mm.cli import app
from rdf2mm.config import TrainConfig
from rdf2mm.errors import UsageError
from rdf2mm.training import threads as T
from tests.conftest import EXAMPLES

runner = CliRunner()
TARGET = "http://example.org/museum#movement"
MUSEUM = str(EXAMPLES / "museum.ttl")
NO_ENV: dict[str, str] = {}


@pytest.fixture
def clean_env(monkeypatch):
    """No thread variable in the environment: auto decides."""
    for name in T.ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def test_small_problems_take_one_thread_whatever_is_free():
    choice = T.choose_threads("auto", T.SMALL_WORK / 2, environ=NO_ENV, free=16)
    assert (choice.threads, choice.reason) == (1, "small problem")
    # the museum example without its literals: a few hundred thousand multiply-adds a step
    assert T.step_work(nodes=1201, edges=4268, dim=32, layers=2) < T.SMALL_WORK


def test_large_problems_take_more_threads_bounded_by_the_free_cores():
    assert T.choose_threads("auto", 3.5 * T.SMALL_WORK, environ=NO_ENV, free=16).threads == 3
    assert T.choose_threads("auto", 1000 * T.SMALL_WORK, environ=NO_ENV, free=6).threads == 6
    assert T.choose_threads("auto", 1000 * T.SMALL_WORK, environ=NO_ENV, free=1).threads == 1
    # an unknown size is taken as large
    assert T.choose_threads("auto", None, environ=NO_ENV, free=4).threads == 4
    assert T.choose_threads("auto", 10**15, environ=NO_ENV, free=1000).threads == T.MAX_AUTO_THREADS


def test_free_cores_subtract_the_other_processes_load():
    cores = os.cpu_count() or 1
    assert T.free_cores(cores=cores, load=0.0, own=0.0) == cores
    # this process's own share of the load is not another process's
    assert T.free_cores(cores=cores, load=1.0, own=1.0) == cores
    assert T.free_cores(cores=cores, load=cores + 5.0, own=0.0) == 1  # fully busy: still one
    if cores >= 2:
        assert T.free_cores(cores=cores, load=1.0, own=0.0) == cores - 1
    assert 1 <= T.free_cores() <= T.usable_cores() <= cores


def test_the_environment_is_respected_under_auto_only():
    large = 1000 * T.SMALL_WORK
    assert T.choose_threads("auto", large, environ={"OMP_NUM_THREADS": "3"}, free=1) == T.ThreadChoice(3, "OMP_NUM_THREADS")
    assert T.choose_threads("auto", 1.0, environ={"OMP_NUM_THREADS": "3"}, free=1).threads == 3  # even when small
    both = {"RDF2MM_THREADS": "2", "OMP_NUM_THREADS": "5"}
    assert T.choose_threads("auto", large, environ=both, free=8) == T.ThreadChoice(2, "RDF2MM_THREADS")
    # RDF2MM_THREADS=auto overrides an OMP_NUM_THREADS meant for other programs
    assert T.choose_threads("auto", 1.0, environ={"RDF2MM_THREADS": "auto", "OMP_NUM_THREADS": "5"}).threads == 1
    assert T.choose_threads("auto", large, environ={"OMP_NUM_THREADS": "4,2"}).threads == 4  # OpenMP's nested form
    # an explicit count beats the environment
    assert T.choose_threads("7", 1.0, environ=both) == T.ThreadChoice(7, "--threads")
    assert T.choose_threads(2, 1.0, environ=NO_ENV) == T.ThreadChoice(2, "--threads")
    with pytest.raises(UsageError, match="OMP_NUM_THREADS must be a positive whole number"):
        T.choose_threads("auto", 1.0, environ={"OMP_NUM_THREADS": "many"})


@pytest.mark.parametrize("bad", ["0", "-1", "two", "1.5", "", True, 0])
def test_bad_settings_are_usage_errors(bad):
    with pytest.raises(UsageError, match="--threads must be a positive whole number of threads or auto"):
        T.parse_threads(bad)


def test_good_settings_parse():
    assert T.parse_threads("auto") is None and T.parse_threads("AUTO ") is None
    assert T.parse_threads("4") == 4 and T.parse_threads(4) == 4


def test_the_config_validates_and_reads_threads(tmp_path):
    cfg = TrainConfig.from_dict({"graph": ["g.nt"], "threads": 4})  # threads = 4 in TOML
    assert cfg.threads == "4"
    cfg.resolve().validate()
    with pytest.raises(UsageError, match="--threads"):
        TrainConfig(graph=["g.nt"], threads="none").resolve().validate()
    # --deterministic runs on one thread: auto becomes 1, another count is refused
    assert TrainConfig(graph=["g.nt"], deterministic=True).resolve().threads == "1"
    with pytest.raises(UsageError, match="--deterministic runs on one thread"):
        TrainConfig(graph=["g.nt"], deterministic=True, threads="2").resolve().validate()


def test_the_count_reaches_torch_during_training_and_is_restored(tmp_path, clean_env):
    from rdf2mm.pipeline import train

    before = torch.get_num_threads()
    seen: list[int] = []

    def note(stage: str, _data: dict) -> None:
        if stage == "epoch":
            seen.append(torch.get_num_threads())

    wanted = 3 if before != 3 else 2
    cfg = TrainConfig(graph=[MUSEUM], target=TARGET, epochs=3, aggregation="sum", device="cpu",
                      threads=str(wanted), out=str(tmp_path / "run"))
    result = train(cfg, note)
    assert seen == [wanted] * 3
    assert torch.get_num_threads() == before
    assert result.metrics["threads"] == wanted
    assert json.loads((tmp_path / "run" / "provenance.json").read_text())["torch_threads"] == wanted


def test_auto_trains_a_small_graph_on_one_thread_and_saves_the_count(tmp_path, clean_env):
    from rdf2mm.pipeline import train

    seen: list[int] = []
    cfg = TrainConfig(graph=[MUSEUM], target=TARGET, epochs=2, aggregation="sum", device="cpu",
                      modalities="none", out=str(tmp_path / "run"))
    result = train(cfg, lambda stage, _d: seen.append(torch.get_num_threads()) if stage == "epoch" else None)
    assert seen == [1, 1] and result.metrics["threads"] == 1
    # the saved config holds the count used, so --config and --resume repeat the run
    assert json.loads((tmp_path / "run" / "config.json").read_text())["threads"] == "1"


def test_the_option_reaches_the_run(tmp_path, clean_env):
    out = tmp_path / "run"
    r = runner.invoke(app, ["--quiet", "train", MUSEUM, "--target", TARGET, "--epochs", "2", "--aggregation", "sum",
                            "--modalities", "none", "--threads", "2", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["threads"] == 2
    assert json.loads((out / "config.json").read_text())["threads"] == "2"
    assert json.loads((out / "provenance.json").read_text())["torch_threads"] == 2
    assert 'threads = "2"' in (out / "config.toml").read_text()


@pytest.mark.parametrize("command", ["train", "ablate", "tune"])
@pytest.mark.parametrize("value", ["0", "many", "-2"])
def test_bad_option_values_exit_2_with_a_clear_message(tmp_path, command, value):
    r = runner.invoke(app, [command, MUSEUM, "--target", TARGET, f"--threads={value}", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2, r.output
    assert "--threads must be a positive whole number of threads or auto" in r.output
    assert not (tmp_path / "o").exists()


def test_a_bad_environment_variable_exits_2_before_reading(tmp_path, monkeypatch):
    monkeypatch.setenv("RDF2MM_THREADS", "lots")
    r = runner.invoke(app, ["train", MUSEUM, "--target", TARGET, "--out", str(tmp_path / "o")])
    assert r.exit_code == 2, r.output
    assert "RDF2MM_THREADS must be a positive whole number" in r.output
    assert "read " not in r.output  # refused before the graph is read


def test_a_bad_config_value_and_deterministic_conflict_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(f'graph = ["{MUSEUM}"]\ntarget = "{TARGET}"\nthreads = 0\n')
    r = runner.invoke(app, ["train", "--config", str(bad), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--threads must be" in r.output, r.output
    r = runner.invoke(app, ["train", MUSEUM, "--target", TARGET, "--deterministic", "--threads", "2"])
    assert r.exit_code == 2 and "--deterministic runs on one thread" in r.output, r.output


def test_threads_is_in_the_help_and_the_example_config():
    r = runner.invoke(app, ["train", "--help"], terminal_width=200)
    assert r.exit_code == 0 and "--threads" in r.output and "N|auto" in r.output
    r = runner.invoke(app, ["config", "--example"])
    assert r.exit_code == 0 and '\nthreads = "auto"' in r.stdout


def test_the_bench_says_where_two_threads_start_to_pay():
    from bench.bench_threads import suggestion

    def case(name, work, one, two, load=0.0):
        return {"case": name, "work": work, "load_before": load, "load_after": load,
                "rows": [{"setting": "1", "seconds_per_epoch": one}, {"setting": "2", "seconds_per_epoch": two}]}

    quiet = [case("small", 1e5, 0.01, 0.012), case("mid", 3e7, 1.0, 0.7), case("big", 1e8, 2.0, 1.2)]
    text = suggestion(quiet, cores=2)
    assert "from work 3.00e+07 up; below 1.00e+05 they do not" in text and "load average" not in text
    busy = [case("small", 1e5, 0.01, 0.3, load=5.0)]
    text = suggestion(busy, cores=2)
    assert "timed against other processes" in text and "nothing here argues for more than one thread" in text


def test_link_prediction_runs_with_the_count_too(tmp_path, numeric_only, clean_env):
    from rdf2mm.pipeline import train

    lp = numeric_only.lp_path
    seen: list[int] = []
    cfg = TrainConfig(graph=[str(lp("train"))], task="link-prediction", train=str(lp("train")),
                      valid=str(lp("valid")), test=str(lp("test")), device="cpu", epochs=2, modalities="none",
                      threads="2", out=str(tmp_path / "lp"))
    result = train(cfg, lambda stage, _d: seen.append(torch.get_num_threads()) if stage == "epoch" else None)
    assert seen == [2, 2] and result.metrics["threads"] == 2
    assert json.loads((tmp_path / "lp" / "config.json").read_text())["threads"] == "2"


def test_predict_and_encode_take_the_option_too(tmp_path, clean_env):
    r = runner.invoke(app, ["--quiet", "encode", MUSEUM, "--out", str(tmp_path / "enc"), "--threads", "1", "--json"])
    assert r.exit_code == 0, r.output
    before = torch.get_num_threads()
    r = runner.invoke(app, ["encode", MUSEUM, "--out", str(tmp_path / "enc2"), "--threads", "none"])
    assert r.exit_code == 2 and "--threads must be a positive whole number" in r.output, r.output
    assert not (tmp_path / "enc2").exists()
    r = runner.invoke(app, ["predict", str(tmp_path / "no-run"), "--threads", "0"])
    assert r.exit_code == 2 and "--threads must be a positive whole number" in r.output, r.output
    assert torch.get_num_threads() == before
