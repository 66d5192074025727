"""Search spaces for ``rdf2mm tune``: one default per task, or a TOML file that replaces it.

A space maps ``train`` settings (fields of :class:`~rdf2mm.config.TrainConfig`) to the
values a trial may take. The TOML form has one table per setting::

    [lr]
    type = "float"        # float, int or categorical
    low = 0.001
    high = 0.05
    log = true            # sample on a log scale (float and int; low must be > 0)

    [hidden]
    type = "int"
    low = 16
    high = 64
    step = 16             # int: the grid low, low+step, ... (float: optional)

    [aggregation]
    type = "categorical"
    choices = ["auto", "sum", "mean"]

Settings not in the space keep the value the command line (or ``--config``) gave them.
:func:`load_space` checks every table and every value against what ``train`` accepts,
and stops with a :class:`~rdf2mm.errors.UsageError` naming the table at fault.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rdf2mm.config import TrainConfig, read_toml
from rdf2mm.errors import UsageError
from rdf2mm.models.registry import DECODERS, KGE_MODELS, PLAIN_COUNTERPARTS, PLAIN_KGE_MODELS

KINDS = ("float", "int", "categorical")

#: settings a search may not vary: they name the data, the output or the run itself
NOT_TUNABLE = frozenset({
    "graph", "format", "task", "target", "train", "valid", "test", "modality_map", "out", "checkpoint_every",
    "predictions_format", "output", "store", "cache", "device", "seed", "seeds", "target_relations", "split",
    "lp_split",
})


@dataclass(frozen=True)
class Param:
    """One searched setting: a float or int range, or a list of choices."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """The value an Optuna ``trial`` draws for this setting."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, float(self.low), float(self.high), step=self.step, log=self.log)

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one this setting can take (for the default trial)."""
        if self.kind == "categorical":
            return value in self.choices
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        assert self.low is not None and self.high is not None
        if not self.low <= value <= self.high:
            return False
        if self.kind == "int" and self.step and not self.log:
            return (int(value) - int(self.low)) % int(self.step) == 0
        return True

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.kind}
        if self.kind == "categorical":
            d["choices"] = list(self.choices)
        else:
            d.update(low=self.low, high=self.high, log=self.log)
            if self.step is not None:
                d["step"] = self.step
        return d


#: The default spaces: around the task's defaults (which every default range contains, so
#: the default configuration can be the study's first trial), wide enough to matter.
DEFAULT_SPACES: dict[str, tuple[Param, ...]] = {
    "node-classification": (
        Param("lr", "float", 1e-3, 5e-2, log=True),
        Param("weight_decay", "float", 1e-5, 1e-2, log=True),
        Param("hidden", "int", 16, 64, step=16),
        Param("embed_dim", "int", 16, 64, step=16),
        Param("layers", "int", 1, 3),
        Param("dropout", "float", 0.0, 0.5),
        Param("entity_dropout", "float", 0.0, 0.7),
        Param("aggregation", "categorical", choices=("auto", "sum", "mean")),
        Param("literals", "categorical", choices=("merged", "split")),
        Param("patience", "int", 10, 50, step=10),
    ),
    "link-prediction": (
        Param("lr", "float", 1e-3, 5e-2, log=True),
        Param("embed_dim", "int", 32, 128, step=32),
        Param("hidden", "int", 32, 128, step=32),
        Param("dropout", "float", 0.0, 0.5),
        Param("weight_decay", "categorical", choices=(0.0, 1e-5, 1e-4)),
        Param("decoder", "categorical", choices=DECODERS.names()),
        # Not ``negatives``: its default is a rule on the graph's size (1-N where it pays off),
        # which a list of counts cannot hold; a space file can still search it.
        Param("aggregation", "categorical", choices=("mean", "sum")),
    ),
}


#: settings only MR-GCN's graph encoder and literal nodes read: an entity-table model
#: (``KGE_MODELS``) has neither (its literal features are frozen, whatever the encoders)
ENCODER_SETTINGS = frozenset({
    "hidden", "layers", "bases", "blocks", "aggregation", "dropout", "entity_dropout", "literals",
    "encoder_refresh", "self_loops", "fanout", "text_encoder", "image_encoder",
})
#: settings of one literal KGE model's own
MODEL_SETTINGS: dict[str, tuple[str, ...]] = {
    "literal_dim": ("literale",), "ensemble": ("mose",), "experts": ("momok",), "club_weight": ("momok",),
    "view_dropout": ("vlkge",),
}
#: settings that choose or change literals, which a plain KGE model reads none of
LITERAL_SETTINGS = frozenset({"modalities", "shuffle_literals", "modality_map"})

#: each model's own settings in its default link-prediction space, around their defaults
MODEL_PARAMS: tuple[Param, ...] = (
    Param("literal_dim", "int", 8, 32, step=8),
    Param("ensemble", "categorical", choices=("mean", "fitted")),
    Param("experts", "int", 1, 4),
)


def reads_setting(model: str, name: str) -> bool:
    """Whether ``model``'s training reads train setting ``name`` (a search over one it
    does not read would only repeat trials)."""
    if name in MODEL_SETTINGS:
        return model in MODEL_SETTINGS[name]
    if model not in KGE_MODELS:
        return True
    if name in ENCODER_SETTINGS:
        return False
    if model in PLAIN_KGE_MODELS and name in LITERAL_SETTINGS:
        return False
    if name == "decoder":  # a plain model is its scorer; ikrl and momok have their own
        return model not in PLAIN_KGE_MODELS and PLAIN_COUNTERPARTS[model] is None
    return True


@dataclass(frozen=True)
class SearchSpace:
    """The searched settings of a study, in order."""

    params: tuple[Param, ...]

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def suggest(self, trial: Any) -> dict[str, Any]:
        return {p.name: p.suggest(trial) for p in self.params}

    def default_point(self, cfg: TrainConfig) -> tuple[dict[str, Any], list[str]]:
        """The resolved defaults of ``cfg`` for each searched setting, and the settings
        whose default lies outside the space (those the default trial has to draw)."""
        resolved = dataclasses.replace(cfg).resolve()
        point, outside = {}, []
        for p in self.params:
            value = getattr(resolved, p.name)
            if p.contains(value):
                point[p.name] = value
            else:
                outside.append(p.name)
        return point, outside

    def to_dict(self) -> dict[str, Any]:
        return {p.name: p.to_dict() for p in self.params}


def default_space(task: str, model: str = "mrgcn") -> SearchSpace:
    """The task's default space, kept to the settings ``model`` reads (with its own, e.g.
    momok's experts, for link prediction)."""
    if task not in DEFAULT_SPACES:
        raise UsageError(f"no default search space for task {task!r}")
    params = DEFAULT_SPACES[task] + (MODEL_PARAMS if task == "link-prediction" else ())
    return SearchSpace(tuple(p for p in params if reads_setting(model, p.name)))


def load_space(path: str | Path, base: TrainConfig) -> SearchSpace:
    """Read and check a TOML search space (see the module docstring) for ``base``'s task."""
    return parse_space(read_toml(Path(path), "search space file"), base, source=str(path))


def parse_space(data: dict[str, Any], base: TrainConfig, source: str = "space") -> SearchSpace:
    """Check a space given as a dict of tables (the parsed TOML); see :func:`load_space`."""
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    params = []
    if not data:
        raise UsageError(f"{source}: the search space is empty; give at least one [setting] table")
    for raw_name, table in data.items():
        name = raw_name.replace("-", "_")
        where = f"{source}: [{raw_name}]"
        if name not in fields:
            raise UsageError(f"{where}: not a train setting (see rdf2mm config --example)")
        if name in NOT_TUNABLE:
            raise UsageError(f"{where}: {raw_name} names the data, output or run and cannot be searched")
        if not isinstance(table, dict):
            raise UsageError(f"{where}: must be a table with type = \"float\", \"int\" or \"categorical\"")
        params.append(_parse_param(name, table, where))
    space = SearchSpace(tuple(params))
    if "model" not in space.names:  # one model: a setting it never reads cannot be searched
        for p in space.params:
            if not reads_setting(base.model, p.name):
                raise UsageError(f"{source}: [{p.name}]: --model {base.model} does not read {p.name}; "
                                 "leave it out of the space")
    _check_values(space, base, source)
    return space


def _parse_param(name: str, table: dict[str, Any], where: str) -> Param:
    kind = table.get("type")
    if kind not in KINDS:
        raise UsageError(f"{where}: type must be one of {', '.join(KINDS)}, not {kind!r}")
    allowed = {"type", "choices"} if kind == "categorical" else {"type", "low", "high", "log", "step"}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)} for type {kind} "
                         f"(allowed: {', '.join(sorted(allowed))})")
    if kind == "categorical":
        choices = table.get("choices")
        if not isinstance(choices, list) or not choices:
            raise UsageError(f"{where}: choices must be a non-empty list")
        if any(not isinstance(c, (str, int, float, bool)) for c in choices) or len(set(map(repr, choices))) < len(choices):
            raise UsageError(f"{where}: choices must be distinct strings, numbers or booleans")
        return Param(name, kind, choices=tuple(choices))
    low, high, log, step = table.get("low"), table.get("high"), table.get("log", False), table.get("step")
    number = int if kind == "int" else (int, float)
    for key, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, number):
            raise UsageError(f"{where}: {key} must be {'an integer' if kind == 'int' else 'a number'}, not {value!r}")
    assert low is not None and high is not None
    if not low < high:
        raise UsageError(f"{where}: low ({low}) must be below high ({high})")
    if not isinstance(log, bool):
        raise UsageError(f"{where}: log must be true or false")
    if log and low <= 0:
        raise UsageError(f"{where}: log = true needs low > 0")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, number) or step <= 0:
            raise UsageError(f"{where}: step must be a positive {'integer' if kind == 'int' else 'number'}")
        if log:
            raise UsageError(f"{where}: step and log = true cannot be combined")
    return Param(name, kind, float(low) if kind == "float" else low, float(high) if kind == "float" else high,
                 log, step)


def _check_values(space: SearchSpace, base: TrainConfig, source: str) -> None:
    """Every end of every range and every choice must make a config ``train`` accepts."""
    for p in space.params:
        values = list(p.choices) if p.kind == "categorical" else [p.low, p.high]
        for value in values:
            cfg = dataclasses.replace(base, **{p.name: value}).resolve()
            try:
                cfg.validate()
            except UsageError as exc:
                raise UsageError(f"{source}: [{p.name}] value {value!r} is not valid: {exc.message}") from None
