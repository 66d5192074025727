"""Seconds per epoch at 1 thread, 2 threads and ``--threads auto``, on small and large graphs.

    python bench/bench_threads.py                      # museum, AIFB+, synth-lp (about 1.5 min on a quiet 2-core machine)
    python bench/bench_threads.py --cases museum,aifb  # a subset
    python bench/bench_threads.py --json threads.json  # also the figures as JSON

Each case runs in its own subprocess: the graph is read once (the parsed-graph cache is
off), one 1-epoch warm-up run trains first, then one run per thread setting in the order
given by ``--settings``; every run is ``rdf2mm.pipeline.train`` with the case's fixed
epochs (no early stopping), so the figure is ``seconds_per_epoch`` as a run reports it.
The table also gives the per-step work estimate that ``auto`` sizes the count from
(:func:`rdf2mm.training.threads.inputs_work`), the count auto chose and why, and the
1-minute load average before and after the case: on a shared machine wall times are
noise, so compare the settings within a row, run serially.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("RDF2MM_SHARED_DATA", ROOT.parent / "shared" / "data"))
if not DATA.is_dir():
    DATA = Path("/work/shared/data")

#: name -> (what, TrainConfig settings, epochs); paths are resolved when the case runs
CASES: dict[str, tuple[str, dict[str, Any], int]] = {
    "museum-structure": ("museum example, structure only (tiny)",
                         {"graph": [str(ROOT / "examples" / "museum.ttl")],
                          "target": "http://example.org/museum#movement", "aggregation": "sum",
                          "modalities": "none"}, 30),
    "museum": ("museum example, node classification (small)",
               {"graph": [str(ROOT / "examples" / "museum.ttl")], "target": "http://example.org/museum#movement",
                "aggregation": "sum"}, 20),
    "synth-nc": ("synth-nc, node classification, images and text",
                 {"graph": [str(DATA / "synth-nc" / "context.nt.gz")], "train": str(DATA / "synth-nc" / "train.nt.gz"),
                  "valid": str(DATA / "synth-nc" / "valid.nt.gz"), "test": str(DATA / "synth-nc" / "test.nt.gz"),
                  "aggregation": "sum"}, 5),
    "aifb": ("AIFB+, node classification (29k triples)",
             {"graph": [str(DATA / "aifbplus" / "aifbplus.nt.gz")], "train": str(DATA / "aifbplus" / "train.nt.gz"),
              "valid": str(DATA / "aifbplus" / "valid.nt.gz"), "test": str(DATA / "aifbplus" / "test.nt.gz"),
              "aggregation": "sum"}, 3),
    "synth-lp": ("synth-lp, link prediction, images and text",
                 {"graph": [str(DATA / "synth-lp" / "train.nt.gz")], "task": "link-prediction",
                  "train": str(DATA / "synth-lp" / "train.nt.gz"), "valid": str(DATA / "synth-lp" / "valid.nt.gz"),
                  "test": str(DATA / "synth-lp" / "test.nt.gz"), "eval_every": 1000}, 3),
}
DEFAULT_CASES = "museum-structure,museum,aifb,synth-lp"

CHILD = r"""
import json, os, sys, time
import torch
import rdf2mm.training.threads as T
from rdf2mm.config import TrainConfig
from rdf2mm.pipeline import train

case, settings = json.loads(sys.argv[1]), sys.argv[2].split(",")
seen = {}
_work = T.inputs_work
def spy(inputs, dim, layers):
    seen["work"] = _work(inputs, dim, layers)
    return seen["work"]
T.inputs_work = spy  # use_training_threads reads it from the module: the estimate auto used
_choose = T.choose_threads
def choose(setting, work, **kw):
    seen["choice"] = _choose(setting, work, **kw)
    return seen["choice"]
T.choose_threads = choose

def run(threads, epochs):
    cfg = TrainConfig(**case["config"], epochs=epochs, patience=10**6, cache=False, device="cpu",
                      threads=threads, checkpoint_every=0)
    started = time.perf_counter()
    result = train(cfg)
    spe = result.per_seed[0]["seconds_per_epoch"]
    return {"setting": threads, "threads": int(cfg.threads), "reason": seen["choice"].reason,
            "seconds_per_epoch": spe, "wall": time.perf_counter() - started}

run("1", 1)  # warm-up: first-touch allocations and lazy imports out of the timed runs
rows = [run(s, case["epochs"]) for s in settings]
print("RESULT " + json.dumps({"work": seen["work"], "rows": rows}))
"""


def run_case(name: str, settings: list[str], epochs: int | None, timeout: float) -> dict[str, Any]:
    what, config, default_epochs = CASES[name]
    missing = [p for p in [*config["graph"], config.get("train")] if p and not Path(p).exists()]
    if missing:
        return {"case": name, "what": what, "error": f"missing {missing[0]}"}
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "HF_HUB_OFFLINE": "1"}
    for var in ("RDF2MM_THREADS", "OMP_NUM_THREADS"):  # auto must decide, not the caller's shell
        env.pop(var, None)
    payload = json.dumps({"config": config, "epochs": epochs or default_epochs})
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, payload, ",".join(settings)], env=env,
                              capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"case": name, "what": what, "error": f"over {timeout:.0f} s"}
    out = {"case": name, "what": what, "load_before": load_before, "load_after": os.getloadavg()[0],
           "wall": time.perf_counter() - started, "epochs": epochs or default_epochs}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        out["error"] = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return out
    out.update(json.loads(lines[-1][len("RESULT "):]))
    return out


def table(results: list[dict[str, Any]], settings: list[str]) -> str:
    head = ["case", "work/step"] + [f"threads={s}" for s in settings] + ["auto chose", "load before/after"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['case']} | error: {r['error']} |" + " |" * (len(head) - 2))
            continue
        by = {row["setting"]: row for row in r["rows"]}
        cells = [f"{by[s]['seconds_per_epoch']:.3f} s" if s in by else "-" for s in settings]
        auto = by.get("auto")
        chose = f"{auto['threads']} ({auto['reason']})" if auto else "-"
        lines.append(f"| {r['case']} | {r['work']:.2e} | " + " | ".join(cells)
                     + f" | {chose} | {r['load_before']:.1f} / {r['load_after']:.1f} |")
    return "\n".join(lines)


def suggestion(results: list[dict[str, Any]], cores: int) -> str:
    """Where two threads start to pay, from the rows that timed both 1 and 2 threads."""
    pairs = []
    for r in results:
        by = {row["setting"]: row["seconds_per_epoch"] for row in r.get("rows", [])}
        if "1" in by and "2" in by and by["2"] > 0:
            pairs.append((r["work"], by["1"] / by["2"], r["case"], max(r["load_before"], r["load_after"])))
    if not pairs:
        return "no case timed both 1 and 2 threads"
    pairs.sort()
    lines = ["speed-up of 2 threads over 1: " + ", ".join(f"{c} {x:.2f}x" for _, x, c, _ in pairs)]
    if any(load > cores - 1 for *_, load in pairs):
        lines.append(f"the load average exceeded {cores - 1} during the cases: two threads were timed against "
                     "other processes, not against the problem size; re-run on a quiet machine to place the threshold")
    paying = [i for i, (_, x, _, _) in enumerate(pairs) if all(p[1] >= 1.1 for p in pairs[i:])]
    if paying:
        below = pairs[paying[0] - 1][0] if paying[0] > 0 else 0.0
        lines.append(f"two threads pay (>= 1.1x) from work {pairs[paying[0]][0]:.2e} up"
                     + (f"; below {below:.2e} they do not" if below else "")
                     + ": SMALL_WORK belongs between")
    else:
        lines.append("two threads paid on no case from some size up: nothing here argues for more than one thread")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=DEFAULT_CASES, help=f"comma list of {', '.join(CASES)} (default: {DEFAULT_CASES})")
    ap.add_argument("--settings", default="1,2,auto", help="thread settings to time, in this order (default: 1,2,auto)")
    ap.add_argument("--epochs", type=int, default=None, help="epochs per timed run (default: per case)")
    ap.add_argument("--timeout", type=float, default=150, help="seconds per case before it is reported as such")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = ap.parse_args()
    names = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        ap.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"bench_threads: python {platform.python_version()}, {cores} usable cores of {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f} at start; seconds per epoch (lower is better)\n", flush=True)
    results = []
    for name in names:
        print(f"... {name}", file=sys.stderr, flush=True)
        results.append(run_case(name, settings, args.epochs, args.timeout))
    from rdf2mm.training.threads import SMALL_WORK  # noqa: PLC0415 - after the children: no torch here

    print(table(results, settings))
    print(f"\nwork/step: the estimate auto sizes the count from; below SMALL_WORK = {SMALL_WORK:.0e} auto takes one "
          f"thread, above it one per SMALL_WORK up to the free cores")
    print(suggestion(results, cores or 1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
