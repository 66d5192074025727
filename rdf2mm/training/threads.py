"""How many intra-op threads training uses: one for small problems, up to the free cores for large ones.

torch starts with one intra-op thread per core. On a small graph a step's operations are
too short to split, and on a busy machine every parallel region waits for the thread the
scheduler took away: on the museum example, with the machine busy, the default ran 0.73 s
per epoch against 0.19 s with one thread (issue 19). So ``--threads auto`` (the default)
sizes the count from the work of one step and from the cores other processes leave free;
``--threads N`` fixes it, and so does ``RDF2MM_THREADS`` or ``OMP_NUM_THREADS`` in the
environment under ``auto``. ``bench/bench_threads.py`` times 1, 2 and auto threads on
small and large graphs. The run's saved config holds the count chosen, so that
``--config`` and ``--resume`` repeat a run exactly whatever the load is then.

Light on purpose (no torch at import): :mod:`rdf2mm.config` validates the setting with
:func:`parse_threads`, and ``rdf2mm --help`` must not pay for torch.
"""
from __future__ import annotations

import contextlib
import math
import os
import resource
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Protocol

from rdf2mm.errors import UsageError

AUTO = "auto"
#: environment variables that fix the count under ``auto``, the first set one wins
ENV_VARS = ("RDF2MM_THREADS", "OMP_NUM_THREADS")
#: a step with less work than this (see :func:`step_work`) runs on one thread, and each
#: further thread needs this much more. torch splits an operation only above 32768
#: elements, so a step of a few million multiply-adds is mostly unsplittable operations
#: whose parallel regions cost more than they save; the museum example is 3.3e5
#: structure only and 5.4e7 with its images, AIFB+ 2.7e7, synth-lp 1.3e8
#: (bench/bench_threads.py prints the figures and where two threads start to pay)
SMALL_WORK = 1e7
#: the most threads ``auto`` ever picks (torch's parallel regions stop scaling well beyond)
MAX_AUTO_THREADS = 32


class EncodedInputs(Protocol):
    """What the work estimate reads of an :class:`~rdf2mm.encoding.encoded.EncodedGraph`
    (named structurally: that module's imports reach back to rdf2mm.config, which uses this one)."""

    mg: Any
    prepared: Any


@dataclass(frozen=True)
class ThreadChoice:
    """The intra-op thread count of a run and why it is that."""

    threads: int
    #: ``--threads``, an environment variable's name, ``small problem`` or ``free cores``
    reason: str


def parse_threads(value: str | int, where: str = "--threads") -> int | None:
    """A thread setting as a count, or None for ``auto``; anything else is a UsageError."""
    text = str(value).strip().lower()
    if text == AUTO:
        return None
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        raise UsageError(f"{where} must be a positive whole number of threads or auto, not {value!r}")
    return int(text)


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, bounded by a cgroup CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:  # cgroup v2: "max 100000" or "<quota> <period>"
        quota, period = open("/sys/fs/cgroup/cpu.max", encoding="ascii").read().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def own_load() -> float:
    """This process's share of the 1-minute load average, roughly: its mean CPU use since
    it started, times how much of that the one-minute average has caught up with. Without
    it a second seed would count the first seed's threads as another process's load."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        with open("/proc/self/stat", encoding="ascii") as fh:
            started = int(fh.read().rsplit(")", 1)[1].split()[19]) / ticks  # field 22: start time since boot
        with open("/proc/uptime", encoding="ascii") as fh:
            age = float(fh.read().split()[0]) - started
    except (OSError, ValueError, IndexError):
        return 1.0  # no /proc: count this process as one running thread
    if age <= 0:
        return 1.0
    return cpu / age * (1 - math.exp(-age / 60))


def free_cores(cores: int | None = None, load: float | None = None, own: float | None = None) -> int:
    """The usable cores that other processes leave free (at least 1): the 1-minute load
    average less this process's own share, scaled to this process's cores."""
    cores = usable_cores() if cores is None else cores
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:  # no load average on this platform: assume nothing else runs
            load = 0.0
    own = own_load() if own is None else own
    # The load average counts every core of the machine; this process may have fewer.
    others = max(0.0, load - own) * cores / max(os.cpu_count() or cores, cores)
    return max(1, min(cores, round(cores - others)))


def step_work(nodes: int, edges: int, dim: int, layers: int, literal_values: int = 0) -> float:
    """Rough multiply-adds of one full-graph training step: every layer passes ``dim``-wide
    messages along the edges and transforms every node, and the literal encoders read
    each of their ``literal_values`` input numbers (pixels, characters) into ``dim`` outputs."""
    return float(layers * (edges + nodes) * dim + literal_values * dim)


def environment_threads(environ: Mapping[str, str] | None = None) -> ThreadChoice | None:
    """The count the first set variable of :data:`ENV_VARS` fixes (None: none does, or it
    says auto); a value that is not a count is a UsageError naming the variable."""
    environ = os.environ if environ is None else environ
    for name in ENV_VARS:
        value = environ.get(name, "").strip()
        if name == "OMP_NUM_THREADS":
            value = value.split(",")[0].strip()  # OpenMP's nested form "4,2": the outer level
        if value:
            count = parse_threads(value, where=name)
            return None if count is None else ThreadChoice(count, name)
    return None


def choose_threads(setting: str | int, work: float | None, *, environ: Mapping[str, str] | None = None,
                   free: int | None = None) -> ThreadChoice:
    """The thread count for ``setting`` (a count, or ``auto``) and a step of ``work``
    (None: unknown, taken as large). Under ``auto`` an environment variable of
    :data:`ENV_VARS` decides when set; otherwise one thread below :data:`SMALL_WORK`, and
    above it one more per :data:`SMALL_WORK`, up to the free cores."""
    fixed = parse_threads(setting)
    if fixed is not None:
        return ThreadChoice(fixed, "--threads")
    from_env = environment_threads(environ)
    if from_env is not None:
        return from_env
    if work is not None and work < SMALL_WORK:
        return ThreadChoice(1, "small problem")
    free = free_cores() if free is None else free
    wanted = MAX_AUTO_THREADS if work is None else max(1, math.floor(work / SMALL_WORK))
    return ThreadChoice(max(1, min(free, wanted, MAX_AUTO_THREADS)), "free cores")


def inputs_work(inputs: EncodedInputs, dim: int, layers: int) -> float:
    """:func:`step_work` of a model of width ``dim`` and ``layers`` R-GCN layers on ``inputs``."""
    mg = inputs.mg
    literal_values = sum(int(d.parsed.data.size) for d in inputs.prepared.data.values())
    return step_work(mg.num_nodes, int(mg.edge_index.shape[1]), dim, layers, literal_values)


_interop_set = False


def set_threads(threads: int) -> None:
    """Give torch ``threads`` intra-op threads (and inter-op ones, where torch still allows
    it: only before any parallel work, once per process; eager training barely uses them)."""
    import torch  # noqa: PLC0415 - keeps this module light for rdf2mm.config and --help

    global _interop_set
    torch.set_num_threads(threads)
    if not _interop_set:
        _interop_set = True
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(threads)


class ThreadedRun(Protocol):
    """The settings of a run that size its thread count (a resolved TrainConfig)."""

    threads: str
    embed_dim: int
    hidden: int
    layers: int


def use_training_threads(cfg: ThreadedRun, inputs: EncodedInputs) -> ThreadChoice:
    """Choose the thread count for training on ``inputs`` (:func:`choose_threads`), set it,
    and write it into ``cfg.threads``: the saved config then holds the count used, so that
    ``--config`` and ``--resume`` repeat the run exactly whatever the machine's load.
    The run's :func:`cpu_threads` restores the caller's count at its end."""
    choice = choose_threads(cfg.threads, inputs_work(inputs, max(cfg.embed_dim, cfg.hidden), cfg.layers))
    set_threads(choice.threads)
    cfg.threads = str(choice.threads)
    return choice


@contextlib.contextmanager
def cpu_threads(setting: str | int, work: float | None = None) -> Iterator[ThreadChoice]:
    """Run the block on the count :func:`choose_threads` gives ``setting`` and ``work``
    (None: as large, so the free cores: for reading and encoding, whose work is not known
    yet, and for one-off inference), then restore torch's count, whatever the block set
    (a training run sets its own with :func:`use_training_threads` inside)."""
    import torch  # noqa: PLC0415

    before = torch.get_num_threads()
    choice = choose_threads(setting, work)
    set_threads(choice.threads)
    try:
        yield choice
    finally:
        torch.set_num_threads(before)
