"""Run the benchmark suite in one command and report it as Markdown for bench/RESULTS.md.

Measures, in this one run and each measurement in its own subprocess:

* machine facts: date, CPU, RAM, GPU, library versions, git commit, load average;
* side-by-side ratios: rdf2mm's full ingest against pyoxigraph's parse and rdflib's
  parse (``bench/bench_ingest.py``), and rdf2mm's R-GCN layer against the raw sparse
  matmul lower bound (``bench/bench_rgcn.py``);
* scaling on generated graphs (``rdf2mm generate --gzip --image-size 32 --seed 0``) of
  each ``--sizes``: generation time, ingest time and peak RSS, preprocessing time per
  modality, and ``rdf2mm train --batching auto`` (seconds per epoch, evaluation
  seconds, full or mini batch, test accuracy, peak RSS);
* with ``--with-nc``, node classification on ``../shared/data/synth-nc``
  (``bench/bench_nc.py``);
* with ``--with-gpu``, the training rows on ``--device`` (CUDA when present): node
  classification on AIFB+ and synth-nc, link prediction on synth-lp, a few epochs each
  (seconds per epoch, evaluation seconds, the test figure); ``bench/gpu_check.sh`` runs
  them with the R-GCN layer on a GPU machine.

A step that fails or runs past ``--timeout`` is reported as such; the suite goes on.
The report goes to stdout, or with ``--write`` into ``bench/RESULTS.md`` between the
markers ``<!-- suite:begin -->`` and ``<!-- suite:end -->`` (appended when absent), so
that the hand-written sections of that file stay. Progress goes to stderr. Exit status
0 when every step ran, 1 when some failed.

Usage::

    .venv/bin/python bench/run_suite.py                  # full suite: 10^4 .. 10^7 triples
    .venv/bin/python bench/run_suite.py --quick          # smoke run, a few minutes
    .venv/bin/python bench/run_suite.py --sizes 10000,100000 --workdir /data/bench --write
    .venv/bin/python bench/run_suite.py --with-nc --json results.json --write
    .venv/bin/python bench/run_suite.py --quick --skip ingest,scaling --with-gpu --device cuda
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
BEGIN, END = "<!-- suite:begin -->", "<!-- suite:end -->"
MODALITIES = ("numeric", "temporal", "textual", "visual", "spatial", "boolean")
IMAGE_SIZE = 32
SEED = 0
MIB = 1 << 20
#: the training rows of --with-gpu: name -> (what, task, graph, split files, epochs); paths under the shared data
GPU_ROWS: dict[str, tuple[str, str, str, tuple[str, str, str], int]] = {
    "aifb": ("AIFB+ node classification", "node-classification", "aifbplus/aifbplus.nt.gz",
             ("aifbplus/train.nt.gz", "aifbplus/valid.nt.gz", "aifbplus/test.nt.gz"), 20),
    "synth-nc": ("synth-nc node classification (images, text)", "node-classification", "synth-nc/context.nt.gz",
                 ("synth-nc/train.nt.gz", "synth-nc/valid.nt.gz", "synth-nc/test.nt.gz"), 20),
    "synth-lp": ("synth-lp link prediction (images, text)", "link-prediction", "synth-lp/train.nt.gz",
                 ("synth-lp/train.nt.gz", "synth-lp/valid.nt.gz", "synth-lp/test.nt.gz"), 10),
}


def shared_data() -> Path:
    """The datasets folder: $RDF2MM_SHARED_DATA, else shared/data beside or inside the checkout."""
    if os.environ.get("RDF2MM_SHARED_DATA"):
        return Path(os.environ["RDF2MM_SHARED_DATA"])
    for candidate in (ROOT.parent / "shared" / "data", ROOT / "shared" / "data", Path("/work/shared/data")):
        if candidate.is_dir():
            return candidate
    return ROOT.parent / "shared" / "data"


def log(message: str) -> None:
    """Progress on stderr, so that stdout stays the report."""
    print(f"[suite {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- steps
@dataclass
class Step:
    """One child process: its command, outcome, wall time and peak memory."""

    name: str
    cmd: list[str]
    status: str = "ok"  # ok | failed | timeout
    rc: int | None = None
    wall_s: float = 0.0
    peak_mib: float | None = None
    load: float = 0.0
    stdout: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def results(self) -> dict[str, Any]:
        """Merge the ``RESULT {json}`` lines a child printed (partial ones survive a timeout)."""
        out: dict[str, Any] = {}
        for line in self.stdout.splitlines():
            if line.startswith("RESULT "):
                try:
                    out.update(json.loads(line[7:]))
                except json.JSONDecodeError:
                    pass
        return out


def run_step(name: str, cmd: list[str], timeout: float, env: dict[str, str]) -> Step:
    """Run ``cmd`` with a time limit; peak RSS comes from ``wait4`` on this very child.

    ``RUSAGE_CHILDREN`` would be the maximum over every child so far, hiding a small
    step behind an earlier big one; ``wait4`` gives the child's own high-water mark
    (including its own waited-for children). Output goes to files, not pipes, so a
    chatty child cannot block on a full pipe.
    """
    step = Step(name=name, cmd=cmd, load=os.getloadavg()[0])
    log(f"{name}: {display(cmd)}")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT, env=env, start_new_session=True)
        except OSError as exc:
            step.status, step.error = "failed", str(exc)
            return step
        box: dict[str, Any] = {}
        reaper = threading.Thread(target=lambda: box.setdefault("r", os.wait4(proc.pid, 0)), daemon=True)
        reaper.start()
        try:
            reaper.join(timeout)
        except KeyboardInterrupt:
            _kill(proc.pid, reaper)
            raise
        if reaper.is_alive():
            step.status = "timeout"
            _kill(proc.pid, reaper)
        step.wall_s = time.perf_counter() - t0
        _, status, usage = box["r"]
        # reaped here, not by Popen: tell it so that it never waits on a reused pid
        proc.returncode = step.rc = os.waitstatus_to_exitcode(status)
        step.peak_mib = usage.ru_maxrss / 1024  # KiB on Linux
        out.seek(0)
        err.seek(0)
        step.stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if step.status == "timeout":
        step.error = f"exceeded the {timeout:g} s limit"
    elif step.rc != 0:
        step.status = "failed"
        lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        step.error = f"exit {step.rc}: " + (lines[-1].strip() if lines else "no message")
    log(f"{name}: {step.status} in {step.wall_s:.1f} s, peak {step.peak_mib or 0:.0f} MiB")
    return step


def _kill(pid: int, reaper: threading.Thread) -> None:
    """Stop the child's whole process group (it may have children of its own)."""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, None)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass
        reaper.join(grace)
        if not reaper.is_alive():
            return


def python() -> list[str]:
    return [sys.executable]


def rdf2mm_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "rdf2mm", *args]


_DISPLAY_SUBS: list[tuple[str, str]] = []


def display(cmd: list[str]) -> str:
    """The command as a reader would type it from the repository root."""
    parts = list(cmd)
    if parts[:3] == [sys.executable, "-m", "rdf2mm"]:
        parts = ["rdf2mm", *parts[3:]]
    elif parts and parts[0] == sys.executable:
        parts[0] = "python"
    text = shlex.join(parts)
    for old, new in _DISPLAY_SUBS:
        text = text.replace(old, new)
    return text.replace(str(ROOT) + "/", "")


# ------------------------------------------------------------------------ children
def _child_probe() -> None:
    """GPU and torch threads (torch stays out of the parent process)."""
    import torch

    res: dict[str, Any] = {"torch_threads": torch.get_num_threads(), "cuda": torch.cuda.is_available()}
    if res["cuda"]:
        res["gpu"] = torch.cuda.get_device_name(0)
        res["gpu_count"] = torch.cuda.device_count()
        res["gpu_mib"] = torch.cuda.get_device_properties(0).total_memory / MIB
        res["cuda_version"] = torch.version.cuda
    print("RESULT " + json.dumps(res))


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _child_ingest(path: str) -> None:
    """``read_graph`` with the cache off: time, CPU time, peak RSS (imports before the clock)."""
    import resource

    from rdf2mm.graph.ingest import read_graph

    base = _rss()
    c0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    kg, _ = read_graph([path], cache=False)
    secs = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    print("RESULT " + json.dumps({
        "seconds": secs,
        "cpu_seconds": (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime),
        "peak_mib": c1.ru_maxrss / 1024,
        "rss_after_imports_mib": base / MIB,
        "triples": int(kg.num_triples), "entities": int(kg.num_entities), "literals": int(kg.num_literals),
        "reader": kg.stats.get("reader"),
    }), flush=True)


def _child_encode(path: str) -> None:
    """What ``rdf2mm train`` does before training: read, message graph, each modality.

    Stages come from ``rdf2mm.encoding.encode``'s hook; a thread samples RSS so that
    each stage gets its own peak. Each stage is printed as it ends, so a timeout
    still leaves the stages done so far.
    """
    import resource

    import rdf2mm.encoding  # noqa: F401 - torch and the modalities load before any clock
    from rdf2mm.encoding import encode

    peak = [0]
    opened: dict[str, tuple[float, int]] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.005)

    def hook(stage: str, phase: str) -> None:
        now = _rss()
        if phase == "start":
            peak[0] = now
            opened[stage] = (time.perf_counter(), now)
            return
        t0, start = opened.pop(stage)
        peak[0] = max(peak[0], now)
        row = {"seconds": time.perf_counter() - t0, "start_mib": start / MIB, "peak_mib": peak[0] / MIB}
        print("RESULT " + json.dumps({f"stage:{stage}": row}), flush=True)

    threading.Thread(target=sample, daemon=True).start()
    enc = encode(path, None, cache=False, on_stage=hook)
    stop.set()
    print("RESULT " + json.dumps({
        "nodes": int(enc.mg.num_nodes), "edges": int(enc.mg.edge_index.shape[1]),
        "relations": int(enc.mg.num_relations), "entities": int(enc.mg.num_entities),
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }), flush=True)


CHILDREN: dict[str, Callable[..., None]] = {"probe": _child_probe, "ingest": _child_ingest, "encode": _child_encode}


# ------------------------------------------------------------------ machine facts
def machine_facts() -> dict[str, Any]:
    """Static facts of the machine and software (no torch import in this process)."""
    facts: dict[str, Any] = {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        with open("/proc/cpuinfo") as fh:
            facts["cpu"] = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")),
                                platform.processor() or platform.machine())
    except OSError:
        facts["cpu"] = platform.processor() or platform.machine()
    try:
        with open("/proc/meminfo") as fh:
            kib = next(int(ln.split()[1]) for ln in fh if ln.startswith("MemTotal:"))
        facts["ram_gib"] = kib / 2**20
    except (OSError, StopIteration):
        facts["ram_gib"] = None
    for name in ("torch", "torch-geometric", "pyoxigraph", "rdflib", "numpy", "rdf2mm"):
        try:
            facts[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            facts[name] = "not installed"
    try:  # read-only; another engineer may be committing, so nothing that takes a lock
        facts["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                         text=True, timeout=30).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        facts["commit"] = "unknown"
    return facts


# ------------------------------------------------------------------------ parsing
_INGEST_KEYS = {"a": "rdflib", "b": "pyoxigraph", "c": "rdf2mm", "d": "cache-hit", "e": "generic"}
_INGEST_ROW = re.compile(r"^\((?P<key>[a-e])\)\s+(?P<label>.+?)\s+(?P<seconds>\d+\.\d+)\s+(?P<peak>\d+)\s+"
                         r"(?P<triples>[\d,]+)\s+(?P<cpu>\d+\.\d+)\s+(?P<imports>\d+\.\d+)\s*$")
_INGEST_ERR = re.compile(r"^\((?P<key>[a-e])\)\s+(?P<label>.+?)\s+error: (?P<error>.*)$")
_RGCN_ROW = re.compile(r"^(?P<label>.+?)\s+(?P<min>\d+\.\d+)\s+(?P<median>\d+\.\d+)\s+(?P<ratio>\d+\.\d+|-)\s+"
                       r"(?P<setup>\d+\.\d+)\s+(?P<mem>\d+)(?:\s+\(\+(?P<over>-?\d+)\))?\s*$")
_RGCN_KEYS = {"lower bound": "lower_bound", "rdf2mm": "rdf2mm", "PyG FastRGCNConv": "pyg_fast",
              "PyG RGCNConv": "pyg_rgcnconv"}
_NC_ROW = re.compile(r"^(?P<name>\S+)\s+(?P<acc>\d+\.\d+) ± (?P<std>\d+\.\d+)\s+(?P<valid>\d+\.\d+)\s+"
                     r"(?P<spe>\d+\.\d+)\s+(?P<epochs>\d+)\s+(?P<peak>\d+)\s*$")


def parse_ingest(text: str) -> dict[str, Any]:
    """Rows of bench_ingest.py's table, by measurement name."""
    rows: dict[str, Any] = {}
    for line in text.splitlines():
        if m := _INGEST_ROW.match(line):
            rows[_INGEST_KEYS[m["key"]]] = {
                "label": m["label"], "seconds": float(m["seconds"]), "peak_mib": float(m["peak"]),
                "triples": int(m["triples"].replace(",", "")), "cpu_seconds": float(m["cpu"]),
                "import_seconds": float(m["imports"]),
            }
        elif m := _INGEST_ERR.match(line):
            rows[_INGEST_KEYS[m["key"]]] = {"label": m["label"], "error": m["error"]}
        elif m := re.search(r"rdf2mm reader: (\S+?),", line):
            rows["reader"] = m[1]
    return rows


def parse_rgcn(text: str) -> dict[str, Any]:
    """Rows of bench_rgcn.py's table (after its ``method`` header), by method key."""
    rows: dict[str, Any] = {}
    in_table = False
    for line in text.splitlines():
        if line.startswith("method "):
            in_table = True
            continue
        m = _RGCN_ROW.match(line) if in_table else None
        if not m:
            continue
        key = next((k for prefix, k in _RGCN_KEYS.items() if m["label"].startswith(prefix)), m["label"])
        rows[key] = {
            "label": m["label"].strip(), "min_s": float(m["min"]), "median_s": float(m["median"]),
            "x_lower": None if m["ratio"] == "-" else float(m["ratio"]), "setup_s": float(m["setup"]),
            "mem_mb": float(m["mem"]), "mem_over_setup_mb": float(m["over"]) if m["over"] else None,
        }
    return rows


def parse_nc(text: str) -> list[dict[str, Any]]:
    return [{"modalities": m["name"], "test_accuracy": float(m["acc"]), "test_std": float(m["std"]),
             "valid_accuracy": float(m["valid"]), "seconds_per_epoch": float(m["spe"]),
             "epochs": int(m["epochs"]), "peak_mb": float(m["peak"])}
            for m in map(_NC_ROW.match, text.splitlines()) if m]


# --------------------------------------------------------------------- the suite
@dataclass
class Suite:
    """Settings, results, and every step that ran."""

    args: argparse.Namespace
    work: Path
    env: dict[str, str]
    facts: dict[str, Any] = field(default_factory=dict)
    probe: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    ingest: dict[str, Any] = field(default_factory=dict)
    rgcn: dict[str, Any] = field(default_factory=dict)
    scaling: list[dict[str, Any]] = field(default_factory=list)
    nc: dict[str, Any] = field(default_factory=dict)
    gpu: list[dict[str, Any]] = field(default_factory=list)
    load_start: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_end: tuple[float, float, float] = (0.0, 0.0, 0.0)
    started: float = 0.0
    elapsed_s: float = 0.0
    interrupted: bool = False

    def step(self, name: str, cmd: list[str]) -> Step:
        s = run_step(name, cmd, self.args.timeout, self.env)
        self.steps.append(s)
        return s

    def fail(self, name: str, error: str) -> None:
        """A failure found by the suite itself (e.g. an unparsable table)."""
        self.steps.append(Step(name=name, cmd=[], status="failed", error=error))
        log(f"{name}: failed: {error}")

    @property
    def failures(self) -> list[Step]:
        return [s for s in self.steps if not s.ok]

    # ------------------------------------------------------------------ sections
    def run(self) -> None:
        a = self.args
        self.started = time.perf_counter()
        self.load_start = os.getloadavg()
        self.facts = machine_facts()
        p = self.step("probe", python() + [__file__, "--child", "probe"])
        self.probe = p.results()
        try:
            if "ingest" not in a.skip:
                self.run_ingest()
            if "rgcn" not in a.skip:
                self.run_rgcn()
            if "scaling" not in a.skip:
                for n in a.sizes:
                    self.run_size(n)
            if a.with_nc:
                self.run_nc()
            if a.with_gpu:
                self.run_gpu()
        except KeyboardInterrupt:
            # report what was measured before the interruption
            self.interrupted = True
            log("interrupted: reporting what ran so far")
        self.load_end = os.getloadavg()
        self.elapsed_s = time.perf_counter() - self.started

    def run_ingest(self) -> None:
        a = self.args
        runs = {
            "large": [f"--triples={a.ingest_triples}", "--skip-rdflib", f"--repeat={a.repeat}"]
            + (["--skip-generic"] if a.quick else []),
            "rdflib": [f"--triples={a.rdflib_triples}", "--skip-generic", "--repeat=1"],
        }
        for key, extra in runs.items():
            s = self.step(f"ingest ({key})", python() + [str(BENCH / "bench_ingest.py"), *extra])
            rows = parse_ingest(s.stdout)
            self.ingest[key] = {"command": display(s.cmd), "rows": rows, "stdout": s.stdout,
                                "triples": a.ingest_triples if key == "large" else a.rdflib_triples}
            need = ["pyoxigraph", "rdf2mm"] + (["rdflib"] if key == "rdflib" else [])
            missing = [k for k in need if "seconds" not in rows.get(k, {})]
            if s.ok and missing:
                self.fail(f"ingest ({key})", "no figure for " + ", ".join(missing) + " in bench_ingest.py's output")

    def run_rgcn(self) -> None:
        a = self.args
        extra = ["--skip-slow", f"--repeat={a.repeat}"]
        if a.quick:
            extra += ["--nodes=20000", "--edges=200000"]
        if self.device() == "cuda":
            extra += ["--device=cuda"]
        s = self.step("rgcn", python() + [str(BENCH / "bench_rgcn.py"), *extra])
        rows = parse_rgcn(s.stdout)
        header = next((ln for ln in s.stdout.splitlines() if ln.startswith("graph:")), "")
        self.rgcn = {"command": display(s.cmd), "rows": rows, "graph": header, "stdout": s.stdout}
        if s.ok and not {"lower_bound", "rdf2mm"} <= rows.keys():
            self.fail("rgcn", "no lower-bound or rdf2mm row in bench_rgcn.py's output")

    def device(self) -> str:
        if self.args.device == "auto":
            return "cuda" if self.probe.get("cuda") else "cpu"
        return self.args.device

    def run_size(self, n: int) -> None:
        a = self.args
        row: dict[str, Any] = {"size": n, "loads": []}
        self.scaling.append(row)
        folder = self.work / f"n{n}"
        data = folder / "graph"
        gen_cmd = rdf2mm_cmd("generate", str(data), "--triples", str(n), "--gzip", "--image-size", str(IMAGE_SIZE),
                             "--seed", str(SEED), "--json")
        row["commands"] = {"generate": display(gen_cmd)}
        manifest = self._reusable(data, n)
        sidecar = folder / "generate.json"
        if manifest is not None:
            log(f"{n:,}: reusing {data}")
            row["generate"] = {"reused": True, **_read_json(sidecar)}
        else:
            s = self.step(f"{n:,}: generate", gen_cmd)
            row["loads"].append(s.load)
            row["generate"] = {"status": s.status, "error": s.error, "seconds": s.wall_s, "peak_mib": s.peak_mib}
            if not s.ok:
                return
            manifest = _read_json(data / "manifest.json")
            sidecar.write_text(json.dumps({"seconds": s.wall_s, "peak_mib": s.peak_mib, "load": s.load}))
        graph = str(data / manifest["paths"]["graph"])
        labels = {k: str(data / v) for k, v in manifest["paths"]["labels"].items()}
        row["manifest_counts"] = {k: manifest["counts"].get(k) for k in ("triples", "items", "images")}
        row["gzip_mib"] = Path(graph).stat().st_size / MIB

        s = self.step(f"{n:,}: ingest", python() + [__file__, "--child", "ingest", graph])
        row["loads"].append(s.load)
        row["commands"]["ingest"] = display(s.cmd)
        row["ingest"] = {"status": s.status, "error": s.error, "wall_s": s.wall_s, **s.results()}

        s = self.step(f"{n:,}: preprocess", python() + [__file__, "--child", "encode", graph])
        row["loads"].append(s.load)
        row["commands"]["preprocess"] = display(s.cmd)
        res = s.results()
        stages = {k.split(":", 1)[1]: v for k, v in res.items() if k.startswith("stage:")}
        row["preprocess"] = {"status": s.status, "error": s.error, "wall_s": s.wall_s, "peak_mib": s.peak_mib,
                             "stages": stages, **{k: v for k, v in res.items() if not k.startswith("stage:")}}

        epochs = a.epochs if a.epochs else (1 if a.quick or n > 1_000_000 else 3)
        run_dir = folder / "train-run"
        if run_dir.exists():  # ours, from an earlier suite run
            shutil.rmtree(run_dir)
        cmd = rdf2mm_cmd("-q", "train", graph, "--train", labels["train"], "--valid", labels["valid"],
                         "--test", labels["test"], "--json", "--out", str(run_dir), "--batching", a.batching,
                         "--epochs", str(epochs), "--no-cache", "--device", a.device)
        # From 10^6 triples an epoch with the default fanout (20 per hop) takes hours on
        # a 2-core machine: sample less and take bigger batches unless told otherwise.
        big = n >= 1_000_000
        fanout = a.fanout or ("5,3" if big else None)
        batch_size = a.batch_size or (2048 if big else None)
        if fanout:
            cmd += ["--fanout", fanout]
        if batch_size:
            cmd += ["--batch-size", str(batch_size)]
        s = self.step(f"{n:,}: train", cmd)
        row["loads"].append(s.load)
        row["commands"]["train"] = display(cmd)
        train: dict[str, Any] = {"status": s.status, "error": s.error, "wall_s": s.wall_s, "peak_mib": s.peak_mib,
                                 "epochs": epochs}
        last = next((ln for ln in reversed(s.stdout.splitlines()) if ln.startswith("{")), None)
        if last:
            try:
                train["metrics"] = json.loads(last)
            except json.JSONDecodeError:
                pass
        per_seed = _read_json(run_dir / "metrics.json").get("per_seed") or [{}]
        train["per_seed"] = per_seed[0]
        if s.ok and "metrics" not in train:
            self.fail(f"{n:,}: train", "no JSON metrics on stdout")
        row["train"] = train

    def _reusable(self, data: Path, n: int) -> dict[str, Any] | None:
        """The manifest of an earlier generation with the same settings, else None."""
        m = _read_json(data / "manifest.json")
        p = m.get("parameters", {})
        want = {"triples": n, "seed": SEED, "compress": True, "image_size": IMAGE_SIZE, "format": "nt"}
        if all(p.get(k) == v for k, v in want.items()) and Path(data, m.get("paths", {}).get("graph", "?")).exists():
            return m
        return None

    def run_nc(self) -> None:
        a = self.args
        data = ROOT.parent / "shared" / "data" / "synth-nc"
        if not (data / "context.nt.gz").exists():
            self.nc = {"skipped": f"{data} not found"}
            log(f"nc: skipped ({data} not found)")
            return
        extra = ["--only=none,all", "--seeds=1"] if a.quick else ["--seeds=3"]
        # bench_nc.py's default --data is this same folder; leaving it out keeps the command short
        s = self.step("nc", python() + [str(BENCH / "bench_nc.py"), *extra])
        self.nc = {"command": display(s.cmd), "rows": parse_nc(s.stdout), "stdout": s.stdout}
        if s.ok and not self.nc["rows"]:
            self.fail("nc", "no rows in bench_nc.py's output")

    def run_gpu(self) -> None:
        """The training rows on the suite's device: one ``rdf2mm train`` process each."""
        a, data, device = self.args, shared_data(), self.device()
        for name, (what, task, graph, splits, epochs) in GPU_ROWS.items():
            row: dict[str, Any] = {"name": name, "what": what, "device": device}
            self.gpu.append(row)
            paths = [data / graph, *(data / f for f in splits)]
            if not all(p.exists() for p in paths):
                row["skipped"] = f"{next(p for p in paths if not p.exists())} not found"
                log(f"gpu {name}: skipped ({row['skipped']})")
                continue
            run_dir = self.work / f"gpu-{name}"
            if run_dir.exists():  # ours, from an earlier suite run
                shutil.rmtree(run_dir)
            cmd = rdf2mm_cmd("-q", "train", str(paths[0]), "--task", task, "--train", str(paths[1]),
                             "--valid", str(paths[2]), "--test", str(paths[3]), "--epochs", str(a.epochs or epochs),
                             "--device", device, "--no-cache", "--json", "--out", str(run_dir))
            if task == "node-classification":
                cmd += ["--aggregation", "sum"]  # one candidate: the row times training, not the choice
            s = self.step(f"gpu {name}", cmd)
            row.update(command=display(cmd), status=s.status, error=s.error, wall_s=s.wall_s, load=s.load,
                       peak_mib=s.peak_mib)
            last = next((ln for ln in reversed(s.stdout.splitlines()) if ln.startswith("{")), None)
            try:
                row["metrics"] = json.loads(last) if last else {}
            except json.JSONDecodeError:
                row["metrics"] = {}
            row["per_seed"] = (_read_json(run_dir / "metrics.json").get("per_seed") or [{}])[0]
            if s.ok and not row["metrics"]:
                self.fail(f"gpu {name}", "no JSON metrics on stdout")

    # ------------------------------------------------------------------- output
    def to_json(self) -> dict[str, Any]:
        return {
            "facts": self.facts, "probe": self.probe, "load_start": self.load_start, "load_end": self.load_end,
            "elapsed_s": self.elapsed_s, "interrupted": self.interrupted, "argv": sys.argv[1:],
            "ingest": self.ingest, "rgcn": self.rgcn, "scaling": self.scaling, "nc": self.nc,
            "gpu": self.gpu,
            "steps": [{k: v for k, v in asdict(s).items() if k != "stdout"} | {"cmd": display(s.cmd)}
                      for s in self.steps],
        }

    def markdown(self) -> str:
        out: list[str] = [BEGIN, ""]
        out += self.md_header()
        if self.ingest or self.rgcn:
            out += self.md_ratios()
        if self.ingest:
            out += self.md_ingest()
        if self.rgcn:
            out += self.md_rgcn()
        if self.scaling:
            out += self.md_scaling()
        if self.nc:
            out += self.md_nc()
        if self.gpu:
            out += self.md_gpu()
        if self.failures or self.interrupted:
            out += ["### Failures", ""]
            if self.interrupted:
                out.append("- the suite was interrupted; sections after the interruption are missing")
            out += [f"- {s.name}: {s.status}: {s.error}" + (f" (`{display(s.cmd)}`)" if s.cmd else "")
                    for s in self.failures]
            out.append("")
        out.append(END)
        return "\n".join(out) + "\n"

    def md_header(self) -> list[str]:
        f, p = self.facts, self.probe
        gpu = (f"GPU {p['gpu']} ({p.get('gpu_mib', 0) / 1024:.0f} GiB, CUDA {p.get('cuda_version')})"
               if p.get("cuda") else "no GPU")
        cores = f"{f['cpu_count']} cores" + (f" ({f['cpus_usable']} usable)" if f["cpus_usable"] != f["cpu_count"] else "")
        ram = f"{f['ram_gib']:.0f} GiB" if f.get("ram_gib") else "? GiB"
        ls, le = self.load_start, self.load_end
        command = shlex.join(["python", "bench/run_suite.py", *sys.argv[1:]])
        return [
            "## Benchmark suite",
            "",
            f"Generated by `{command}` (this block, between the `suite` markers, is rewritten by",
            "`--write`; the sections above it are hand-written).",
            f"Measured on {f['date']} at commit `{f['commit']}`: {f['cpu']}, {cores}, {ram}, {gpu};",
            f"Python {f['python']}, torch {f['torch']} ({p.get('torch_threads', '?')} threads), "
            f"torch-geometric {f['torch-geometric']}, pyoxigraph {f['pyoxigraph']}, rdflib {f['rdflib']}, "
            f"rdf2mm {f['rdf2mm']}. The suite took {self.elapsed_s / 60:.1f} min.",
            f"Load average (1/5/15 min) {ls[0]:.2f}/{ls[1]:.2f}/{ls[2]:.2f} at the start and "
            f"{le[0]:.2f}/{le[1]:.2f}/{le[2]:.2f} at the end, on {f['cpu_count']} cores: the machine is shared",
            "with other jobs, so wall times are upper bounds (the `load` columns give the 1-minute",
            "load average when each step started). Every measurement ran in its own process; peak",
            "memory is that process's maximum resident set size.",
            "",
        ]

    def md_ratios(self) -> list[str]:
        out = ["### Side-by-side ratios (this run)", "", "| comparison | size | ratio | target |", "|---|---|---|---|"]
        large = self.ingest.get("large", {}).get("rows", {})
        small = self.ingest.get("rdflib", {}).get("rows", {})
        nl, ns = self.ingest.get("large", {}).get("triples"), self.ingest.get("rdflib", {}).get("triples")

        def ratio(rows: dict[str, Any], num: str, den: str) -> str:
            a, b = rows.get(num, {}).get("seconds"), rows.get(den, {}).get("seconds")
            return f"{a / b:.2f}x" if a and b else "n/a"

        if large:
            out.append(f"| rdf2mm full ingest / pyoxigraph parse | {nl:,} triples | "
                       f"**{ratio(large, 'rdf2mm', 'pyoxigraph')}** | <= 1.5x |")
        if small:
            out.append(f"| rdf2mm full ingest / pyoxigraph parse | {ns:,} triples | {ratio(small, 'rdf2mm', 'pyoxigraph')} | |")
            out.append(f"| rdflib parse / rdf2mm full ingest | {ns:,} triples | **{ratio(small, 'rdflib', 'rdf2mm')}** "
                       f"(rdf2mm faster) | |")
        rows = self.rgcn.get("rows", {})
        lb = rows.get("lower_bound", {}).get("min_s")
        size = self.rgcn.get("graph", "").removeprefix("graph: ").split(";")[0]
        for key, label, target in (("rdf2mm", "rdf2mm `RGCNLayer` / raw spmm lower bound", "<= 1x"),
                                   ("pyg_fast", "PyG `FastRGCNConv` / raw spmm lower bound", "")):
            t = rows.get(key, {}).get("min_s")
            if t and lb:
                val = f"{t / lb:.2f}x"
                out.append(f"| {label} | {size} | {'**' + val + '**' if key == 'rdf2mm' else val} | {target} |")
        return out + ["", "Ratios are of wall times measured in this run; the sections below give the figures.", ""]

    def md_ingest(self) -> list[str]:
        out = ["### Ingest", ""]
        for key in ("large", "rdflib"):
            block = self.ingest.get(key)
            if not block:
                continue
            out += [f"`{block['command']}`:", "", "| measurement | seconds | CPU s | peak MiB | triples |", "|---|---|---|---|---|"]
            for name in ("rdflib", "pyoxigraph", "rdf2mm", "cache-hit", "generic"):
                r = block["rows"].get(name)
                if not r:
                    continue
                if "error" in r:
                    out.append(f"| {r['label']} | error: {r['error']} | | | |")
                else:
                    out.append(f"| {r['label']} | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} | {r['peak_mib']:.0f} "
                               f"| {r['triples']:,} |")
            out += [""] + _raw(block["stdout"])
        return out

    def md_rgcn(self) -> list[str]:
        r = self.rgcn
        out = ["### R-GCN layer", "", f"`{r['command']}` ({r['graph'].removeprefix('graph: ')}):", "",
               "| method | min s | median s | x lower bound | setup s | peak MB |", "|---|---|---|---|---|---|"]
        for row in r["rows"].values():
            x = f"{row['x_lower']:.2f}" if row["x_lower"] is not None else "-"
            out.append(f"| {row['label']} | {row['min_s']:.3f} | {row['median_s']:.3f} | {x} | {row['setup_s']:.2f} "
                       f"| {row['mem_mb']:.0f} |")
        return out + [""] + _raw(r["stdout"])

    def md_scaling(self) -> list[str]:
        a = self.args
        out = [
            "### Scaling on generated graphs", "",
            f"Each size: `rdf2mm generate $WORK/nN/graph --triples N --gzip --image-size {IMAGE_SIZE} --seed {SEED} --json`, "
            "then, each in its own process: ingest (`read_graph`, cache off), preprocessing (message graph and every "
            "modality, as `rdf2mm encode` without writing) and",
            f"`rdf2mm -q train GRAPH --train/--valid/--test labels/*.nt --batching {a.batching} --epochs E --no-cache "
            f"--device {a.device} --json` (E = {a.epochs or ('1' if a.quick else '3 up to 10^6 triples, 1 above')}). "
            "Exact commands per size are listed below the tables. Times in seconds, memory in MiB.", "",
            "| triples | gz MiB | generate s | ingest s | ingest peak | preprocess s | preprocess peak | nodes | edges "
            "| batching | epochs | s/epoch | eval s | test acc | train peak | load |",
            "|" + "---|" * 16,
        ]
        notes: list[str] = []
        for row in self.scaling:
            g, i, p, t = (row.get(k, {}) for k in ("generate", "ingest", "preprocess", "train"))
            c = row.get("manifest_counts", {})
            cells = [f"{c.get('triples') or row['size']:,}", _num(row.get("gzip_mib"), 1)]
            if g.get("reused"):
                cells.append(f"{_num(g.get('seconds'))} (earlier run)" if g.get("seconds") else "reused")
            else:
                cells.append(_cell(g, g.get("seconds")))
            cells += [_cell(i, i.get("seconds")), _cell(i, i.get("peak_mib"), 0)]
            pre = sum(v["seconds"] for k, v in p.get("stages", {}).items() if k != "read") if p.get("stages") else None
            peak = max((v["peak_mib"] for k, v in p.get("stages", {}).items() if k != "read"), default=None)
            cells += [_cell(p, pre), _cell(p, peak, 0),
                      _int(p.get("nodes")), _int(p.get("edges"))]
            m, ps = t.get("metrics", {}), t.get("per_seed", {})
            cells += [m.get("batching", "-") if t else "-", str(ps.get("epochs_run", "-")) if t else "-",
                      _cell(t, m.get("seconds_per_epoch"), 3), _cell(t, ps.get("eval_seconds")),
                      _cell(t, m.get("test_accuracy"), 3), _cell(t, t.get("peak_mib") if m else None, 0)]
            cells.append(f"{max(row['loads']):.1f}" if row["loads"] else "-")
            out.append("| " + " | ".join(cells) + " |")
            for what, d in (("generate", g), ("ingest", i), ("preprocess", p), ("train", t)):
                if d.get("error"):
                    notes.append(f"- {row['size']:,} triples, {what}: {d['status']}: {d['error']}")
            if m.get("batching_reason"):
                notes.append(f"- {row['size']:,} triples: {m['batching']} batch: {m['batching_reason']}")
        out += [""] + notes + ([""] if notes else [])
        out += ["Preprocessing per stage (seconds, and peak RSS of the stage in MiB; `read` is ingest again, "
                "not counted in the preprocess total above):", "",
                "| triples | read | message graph | " + " | ".join(MODALITIES) + " |", "|" + "---|" * (3 + len(MODALITIES))]
        for row in self.scaling:
            stages = row.get("preprocess", {}).get("stages")
            if not stages:
                continue
            cells = [f"{row['size']:,}"]
            for name in ("read", "message_graph", *(f"literals:{m}" for m in MODALITIES)):
                st = stages.get(name)
                cells.append(f"{_num(st['seconds'])} ({st['peak_mib']:.0f})" if st else "-")
            out.append("| " + " | ".join(cells) + " |")
        out += ["", "Commands (`$WORK` is the work folder, "
                f"{'a temporary one' if not a.workdir else '`' + str(self.work) + '`'}):", ""]
        for row in self.scaling:
            out.append(f"- {row['size']:,}: " + "; ".join(f"`{c}`" for c in row.get("commands", {}).values()))
        return out + [""]

    def md_nc(self) -> list[str]:
        if "skipped" in self.nc:
            return ["### Node classification (synth-nc)", "", f"Skipped: {self.nc['skipped']}.", ""]
        out = ["### Node classification (synth-nc)", "", f"`{self.nc['command']}`:", "",
               "| modalities | test accuracy | valid accuracy | s/epoch | epochs | peak MB |", "|---|---|---|---|---|---|"]
        for r in self.nc["rows"]:
            out.append(f"| {r['modalities']} | {r['test_accuracy']:.3f} ± {r['test_std']:.3f} | {r['valid_accuracy']:.3f} "
                       f"| {r['seconds_per_epoch']:.3f} | {r['epochs']} | {r['peak_mb']:.0f} |")
        return out + [""] + _raw(self.nc["stdout"])


    def md_gpu(self) -> list[str]:
        device = self.gpu[0]["device"]
        out = [f"### Training rows on {device}", "",
               "| row | epochs | s/epoch | eval s | test figure | CPU threads | wall s | peak RSS MiB | load |",
               "|---|---|---|---|---|---|---|---|---|"]
        notes = []
        for r in self.gpu:
            if "skipped" in r:
                out.append(f"| {r['what']} | skipped: {r['skipped']} | | | | | | | |")
                continue
            m, ps = r.get("metrics", {}), r.get("per_seed", {})
            test = next(((k, m[k]) for k in ("test_accuracy", "test_mrr") if isinstance(m.get(k), float)), None)
            step = {"status": r["status"]}
            out.append(f"| {r['what']} | {ps.get('epochs_run', '-')} | {_cell(step, m.get('seconds_per_epoch'), 3)} "
                       f"| {_cell(step, ps.get('eval_seconds'))} | "
                       + (f"{test[0].removeprefix('test_')} {test[1]:.3f}" if test else "-")
                       + f" | {m.get('threads', '-')} | {_num(r['wall_s'])} | {_num(r['peak_mib'], 0)} | {r['load']:.1f} |")
            if r.get("error"):
                notes.append(f"- {r['name']}: {r['status']}: {r['error']}")
        out += [""] + notes + ([""] if notes else [])
        out += ["Commands:", ""] + [f"- `{r['command']}`" for r in self.gpu if "command" in r]
        return out + [""]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _num(x: float | None, digits: int | None = None) -> str:
    if x is None:
        return "-"
    if digits is None:  # about three significant figures
        digits = 2 if abs(x) < 10 else 1 if abs(x) < 100 else 0
    return f"{x:,.{digits}f}"


def _int(x: int | None) -> str:
    return "-" if x is None else f"{x:,}"


def _cell(step: dict[str, Any], value: float | None, digits: int | None = None) -> str:
    """A figure, or why there is none (timeout / failed)."""
    if not step:
        return "-"
    if step.get("status") not in (None, "ok"):
        return f"*{step['status']}*" if value is None else f"{_num(value, digits)} (*{step['status']}*)"
    return _num(value, digits)


def _raw(stdout: str) -> list[str]:
    """A script's whole output, folded: the tables above are parsed from it."""
    text = stdout.strip().replace("```", "'''") or "(no output)"
    return ["<details><summary>raw output</summary>", "", "```", text, "```", "", "</details>", ""]


def write_block(path: Path, block: str) -> None:
    """Replace the marked block in ``path`` (append it when absent), atomically."""
    old = path.read_text() if path.exists() else ""
    b, e = old.find(BEGIN), old.find(END)
    if b >= 0 and e > b:
        new = old[:b] + block.rstrip("\n") + old[e + len(END):]
    elif b >= 0 or e >= 0:
        raise SystemExit(f"{path}: only one of the markers {BEGIN} / {END} is there; fix the file by hand")
    else:
        new = old.rstrip("\n") + ("\n\n" if old else "") + block
    if not new.endswith("\n"):
        new += "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(new)
        if path.exists():
            shutil.copymode(path, tmp)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parse_sizes(text: str) -> list[int]:
    """``10000,1e5`` -> [10000, 100000]."""
    try:
        sizes = [int(float(x)) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be comma-separated numbers, got {text!r}") from None
    if not sizes or min(sizes) < 1000:
        raise argparse.ArgumentTypeError("sizes must be at least 1000 triples")
    return sizes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: sizes 10^4,10^5, 1 epoch, smaller ingest/R-GCN benchmarks, 1 repeat")
    ap.add_argument("--sizes", type=parse_sizes, help="graph sizes in triples (default 1e4,1e5,1e6,1e7; quick 1e4,1e5)")
    ap.add_argument("--workdir", type=Path, help="where graphs are generated and kept for reuse (default: a temporary folder)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per step before it is stopped (default 3600)")
    ap.add_argument("--epochs", type=int, help="training epochs per size (default 3 up to 10^6 triples, 1 above; quick 1)")
    ap.add_argument("--batching", choices=["auto", "full", "mini"], default="auto")
    ap.add_argument("--fanout", help="mini-batch fanout passed to rdf2mm train (default: its own; 5,3 from 10^6 triples)")
    ap.add_argument("--batch-size", type=int, help="mini-batch size passed to rdf2mm train (default: its own; 2048 from 10^6 triples)")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="for training and the R-GCN layer")
    ap.add_argument("--ingest-triples", type=int, help="size of the ingest ratio benchmark (default 1e6; quick 1e5)")
    ap.add_argument("--rdflib-triples", type=int, help="size of the rdflib comparison (default 1e5; quick 1e4)")
    ap.add_argument("--repeat", type=int, help="runs per ingest/R-GCN measurement, best kept (default 3; quick 1)")
    ap.add_argument("--skip", default="", help="comma list of sections to leave out: ingest, rgcn, scaling")
    ap.add_argument("--with-nc", action="store_true", help="also run bench_nc.py on ../shared/data/synth-nc")
    ap.add_argument("--with-gpu", action="store_true",
                    help="also train the GPU rows on --device: AIFB+ and synth-nc node classification, synth-lp link "
                         "prediction (a few epochs each; --epochs overrides)")
    ap.add_argument("--write", action="store_true", help="write into the marked block of --results instead of stdout")
    ap.add_argument("--results", type=Path, default=BENCH / "RESULTS.md", help="file that --write updates")
    ap.add_argument("--json", type=Path, help="also dump every raw figure to this JSON file")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        CHILDREN[args.child[0]](*args.child[1:])
        return 0

    args.sizes = args.sizes or ([10_000, 100_000] if args.quick else [10**4, 10**5, 10**6, 10**7])
    args.ingest_triples = args.ingest_triples or (100_000 if args.quick else 1_000_000)
    args.rdflib_triples = args.rdflib_triples or (10_000 if args.quick else 100_000)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if args.skip - {"ingest", "rgcn", "scaling"}:
        ap.error(f"--skip takes ingest, rgcn, scaling; got {args.skip}")

    tmp = None
    if args.workdir:
        work = args.workdir.resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="rdf2mm-suite-")
        work = Path(tmp)
    _DISPLAY_SUBS.append((str(work), "$WORK"))
    # a cache of our own: nothing of the user's is read or written, and no hit skews a time
    env = dict(os.environ, PYTHONPATH=str(ROOT), RDF2MM_CACHE=str(work / "cache"))
    suite = Suite(args=args, work=work, env=env)
    try:
        suite.run()
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    block = suite.markdown()
    if args.json:
        args.json.write_text(json.dumps(suite.to_json(), indent=1, default=str) + "\n")
        log(f"raw figures in {args.json}")
    if args.write:
        write_block(args.results, block)
        log(f"wrote the suite block of {args.results}")
    else:
        sys.stdout.write(block)
    if suite.failures or suite.interrupted:
        log(f"{len(suite.failures)} step(s) failed: " + ", ".join(s.name for s in suite.failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
