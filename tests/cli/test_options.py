"""The shared options: defaults and choices shown by the help are the ones a run uses."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import typer

from rdf2mm.cli import app
from rdf2mm.cli.options import OPTIONS, show
from rdf2mm.config import AGGREGATIONS, BATCHING_MODES, DEVICES, LITERAL_MODES, PREDICTION_FORMATS, TASKS, TrainConfig
from rdf2mm.models.registry import DECODERS, IMAGE_ENCODERS, TEXT_ENCODERS

FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}
#: options that share a field's name but mean something else in that command
OWN_MEANING = {("ablate", "seeds"), ("ablate", "literals"), ("tune", "seeds")}
#: defaults the help describes rather than states (decided from the graph, a fresh folder, every relation)
#: options whose default is a rule the help describes in words, not a value
DESCRIBED = {"bases", "out", "target_relations", "negatives"}
TOKEN = r"[\w.,:-]+"


def _options(command: str) -> dict[str, str]:
    """``{field: help}`` for the options of ``command`` that set a TrainConfig field, as --help shows them."""
    group = typer.main.get_command(app)
    ctx = group.make_context("rdf2mm", [command], resilient_parsing=True)
    found = {}
    for param in group.get_command(ctx, command).params:  # get_command applies rdf2mm's help rewriting
        long = next((o for o in param.opts if o.startswith("--")), None)
        field = long[2:].replace("-", "_") if long else None
        if field in FIELDS and (command, field) not in OWN_MEANING:
            found[field] = param.help or ""
    return found


def shown_defaults(text: str) -> dict[str, str] | None:
    """The default a help text states, by task (None: it states none)."""
    pairs = [
        rf"\(default: ({TOKEN}) for node classification, ({TOKEN}) for link prediction\)",
        rf"\(default: ({TOKEN}); link prediction ({TOKEN})\)",
    ]
    for pattern in pairs:
        if m := re.search(pattern, text):
            return {"node-classification": m[1], "link-prediction": m[2]}
    nc = re.search(rf"node classification[^()]*, default ({TOKEN})\)", text)
    lp = re.search(rf"link prediction[^()]*, default ({TOKEN})\)", text)
    if nc and lp:
        return {"node-classification": nc[1], "link-prediction": lp[1]}
    nc = re.search(rf"({TOKEN}) \((?:[^()]*; )?default for node classification", text)
    lp = re.search(rf"({TOKEN}) \((?:[^()]*; )?default for link prediction", text)
    if nc and lp:
        return {"node-classification": nc[1], "link-prediction": lp[1]}
    if m := re.search(rf"\(default:? ({TOKEN})[;)]", text):
        return dict.fromkeys(TASKS, m[1])
    if m := re.search(rf"({TOKEN}) \(default\b", text):
        return dict.fromkeys(TASKS, m[1])
    return None


def _same(shown: str, value: object) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(shown) == float(value)
    if isinstance(value, list):
        return shown == show(value)
    return shown == value


@pytest.mark.parametrize("command", ["train", "ablate", "tune"])
def test_every_default_the_help_shows_is_the_resolved_value(command):
    checked = set()
    for field, text in _options(command).items():
        if field in DESCRIBED:
            continue
        shown = shown_defaults(text)
        if shown is None:
            continue
        for task, value_text in shown.items():
            # the task's own default is the task of a run that names none
            resolved = TrainConfig(graph=["g.nt"], **({} if field == "task" else {"task": task})).resolve()
            value = getattr(resolved, field)
            assert _same(value_text, value), f"{command} --{field}: help says {value_text!r} for {task}, a run uses {value!r}"
        checked.add(field)
    if command == "train":  # the parser must find the defaults of every option that states one
        assert checked >= {"task", "modalities", "literals", "text_encoder", "embed_dim", "hidden", "layers",
                           "aggregation", "dropout", "entity_dropout", "lr", "weight_decay", "epochs", "patience",
                           "device", "seed", "predictions_format", "decoder", "batch_size", "batching",
                           "fanout", "eval_every", "checkpoint_every"}, checked
    assert {"epochs", "seed"} <= checked


def test_the_help_defaults_parser():
    assert shown_defaults("Size (default: 32; link prediction 64).") == {"node-classification": "32",
                                                                         "link-prediction": "64"}
    assert shown_defaults("auto (default: mini when it would not fit).") == dict.fromkeys(TASKS, "auto")
    assert shown_defaults("Maximum epochs (default: 200).") == dict.fromkeys(TASKS, "200")
    assert shown_defaults("Block-diagonal decomposition.") is None


def test_shared_options_are_declared_once():
    # train, ablate and tune show one text for each option they share
    texts = {command: _options(command) for command in ("train", "ablate", "tune")}
    overridden = {("ablate", "out"), ("ablate", "seed"), ("tune", "out"), ("tune", "seed"), ("tune", "valid"),
                  ("tune", "test")}
    for command in ("ablate", "tune"):
        for field, text in texts[command].items():
            if (command, field) not in overridden:
                assert text == texts["train"][field], (command, field)
    assert set(texts["train"]) <= set(OPTIONS) | {"resume"}


def test_help_choices_are_the_registered_ones():
    from rdf2mm.export import OUTPUTS
    from rdf2mm.modalities.registry import MODALITY_NAMES

    help_of = _options("train")
    assert all(name in help_of["decoder"] for name in DECODERS.names())
    assert all(name in help_of["text_encoder"] for name in TEXT_ENCODERS.names())
    assert all(name in help_of["image_encoder"] for name in IMAGE_ENCODERS.names())
    assert re.search(r"a list: ([\w,]+)", help_of["modalities"])[1].split(",") == list(MODALITY_NAMES)
    assert all(mode in help_of["literals"] for mode in LITERAL_MODES)
    assert all(agg in help_of["aggregation"] for agg in ("auto", *AGGREGATIONS))
    assert all(mode in help_of["batching"] for mode in BATCHING_MODES)
    assert all(device in help_of["device"] for device in DEVICES)
    assert all(fmt in help_of["predictions_format"] for fmt in PREDICTION_FORMATS)
    assert all(task in help_of["task"] for task in TASKS)
    assert re.search(r"comma list of ([\w, ]+) \(", help_of["output"])[1].split(", ") == list(OUTPUTS)


def _valid_values() -> dict[str, set[str]]:
    from rdf2mm.modalities.registry import MODALITY_NAMES

    return {
        "--batching": set(BATCHING_MODES), "--literals": set(LITERAL_MODES),
        "--aggregation": {"auto", *AGGREGATIONS}, "--decoder": set(DECODERS.names()),
        "--text-encoder": set(TEXT_ENCODERS.names()), "--image-encoder": set(IMAGE_ENCODERS.names()), "--device": {*DEVICES, "cuda:0", "cuda:1"},
        "--task": set(TASKS), "--predictions-format": set(PREDICTION_FORMATS),
        "--modalities": {"all", "none", *MODALITY_NAMES},
    }


#: ``--option value`` where the text suggests a value: a hint ("try --batching mini") or an
#: alternative ("or --literals none")
HINT = re.compile(r"\b(?:try|use|or|with|e\.g\.)\s+(--[a-z-]+)[ =]([\w:,.-]+)")
#: every ``--option value`` of a command example ("rdf2mm train g.nt --decoder complex")
EXAMPLE = re.compile(r"rdf2mm [a-z]+ [^\n\"']*")
PAIR = re.compile(r"(--[a-z-]+)[ =]([\w:,.-]+)")
#: options that take a comma list of values (ablate's --literals runs several modes)
LISTS = ("--modalities", "--literals")


def suggested_values(text: str) -> list[tuple[str, str]]:
    """The (option, value) pairs ``text`` suggests in hints and command examples."""
    pairs = [(m[1], m[2]) for m in HINT.finditer(text)]
    for example in EXAMPLE.finditer(text):
        pairs += [(m[1], m[2]) for m in PAIR.finditer(example[0])]
    return [(option, value.rstrip(".,")) for option, value in pairs]


def test_every_hint_names_a_valid_value():
    valid = _valid_values()
    package = Path(__file__).resolve().parents[2] / "rdf2mm"
    seen = set()
    for path in sorted(package.rglob("*.py")):
        for option, value in suggested_values(path.read_text(encoding="utf-8")):
            if option not in valid:
                continue
            values = value.split(",") if option in LISTS else [value]
            bad = [v for v in values if v not in valid[option]]
            assert not bad, f"{path.relative_to(package.parent)}: {option} {value} names {bad}, not a valid {option}"
            seen.add((option, value))
    # the scan does find the hints and examples (the out-of-memory hint among them)
    assert {("--batching", "mini"), ("--literals", "merged"), ("--text-encoder", "minilm")} <= seen, seen


def test_a_hint_with_an_invalid_value_is_caught():
    # the out-of-memory hint of before issue 20 named a value --batching does not take
    pairs = suggested_values('"out of memory; try --batching minibatch, fewer modalities"')
    assert pairs == [("--batching", "minibatch")] and "minibatch" not in _valid_values()["--batching"]
    assert ("--decoder", "transe") in suggested_values("      rdf2mm train g.nt --task link-prediction --decoder transe")
