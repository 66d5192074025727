"""Benchmark rdf2mm's start-up and ``inspect`` as whole processes, against a bare parse.

Generates (in a temporary folder) a fresh N-Triples file of about ``--triples`` triples
with ``rdf2mm.synthetic.generate`` (every modality: text, numbers, dates, booleans, WKT
geometries and base64 JPEG images, at the generator's defaults), then measures, in one
run, each command as a fresh process, ``--runs`` times round-robin (so that a change in
machine load hits every command alike), and prints the median, min and max wall time and
the median CPU time (user + system of the child):

* ``bare``: ``python -c`` that parses the file with pyoxigraph into a list
  (``list(pyoxigraph.parse(path=FILE, format=N_TRIPLES))``): the baseline;
* ``bare-store`` (with ``--store``): the same file bulk-loaded into an in-memory
  ``pyoxigraph.Store``, for reference;
* ``inspect``: ``python -m rdf2mm inspect FILE --json``, each run with an empty
  parsed-graph cache (``RDF2MM_CACHE`` in a fresh folder), so every run reads the file
  as a first run does, validation of every literal included; ``inspect-nv``: the same
  with ``--no-validate`` (reading, counting and the cache write only);
* ``help``: ``python -m rdf2mm --help``; ``train-help``: ``python -m rdf2mm train --help``.

It ends with the ratio inspect / bare (the issue asks for at most 1.5x on 10^6
triples) and says whether ``inspect`` imported torch.

Usage::

    .venv/bin/python bench/bench_startup.py                  # 10^6 triples, 3 runs
    .venv/bin/python bench/bench_startup.py --triples 100000 --runs 5 --store
    .venv/bin/python bench/bench_startup.py --file graph.nt  # an existing file
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BARE = ("import sys, pyoxigraph as ox; "
        "q = list(ox.parse(path=sys.argv[1], format=ox.RdfFormat.N_TRIPLES)); print(len(q))")
BARE_STORE = ("import sys, pyoxigraph as ox; s = ox.Store(); "
              "s.bulk_load(path=sys.argv[1], format=ox.RdfFormat.N_TRIPLES); print(len(s))")
#: runs inspect through the CLI and reports whether torch was imported along the way
INSPECT = ("import sys; sys.argv = ['rdf2mm', *sys.argv[1:]]; from rdf2mm.cli import main\n"
           "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\nelse:\n    code = 0\n"
           "sys.stderr.write('TORCH %s\\n' % ('torch' in sys.modules)); sys.exit(code)")


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system of the child) of one whole process, and its stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}): {proc.stderr[-800:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stderr


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--triples", type=int, default=1_000_000, help="size of the generated graph (default 10^6)")
    ap.add_argument("--runs", type=int, default=3, help="processes per command (default 3; the median is reported)")
    ap.add_argument("--file", type=Path, help="measure this N-Triples file instead of generating one")
    ap.add_argument("--store", action="store_true", help="also time a pyoxigraph Store bulk load")
    args = ap.parse_args(argv)

    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               HF_HUB_OFFLINE="1", NO_COLOR="1")
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="rdf2mm-startup-") as tmp:
        if args.file is not None:
            path = args.file.resolve()
            print(f"file: {path} ({path.stat().st_size / 1e6:.0f} MB)")
        else:
            sys.path.insert(0, str(ROOT))
            from rdf2mm.synthetic import generate

            t0 = time.perf_counter()
            ds = generate(Path(tmp) / "synth", triples=args.triples, seed=0, format="nt", compress=False)
            path = ds.graph_path
            c = ds.manifest["counts"]
            print(f"generated {c['triples']:,} triples ({path.stat().st_size / 1e6:.0f} MB, "
                  f"{c['images']:,} images) in {time.perf_counter() - t0:.1f} s with rdf2mm.synthetic.generate")

        commands: dict[str, list[str]] = {"bare": [py, "-c", BARE, str(path)]}
        if args.store:
            commands["bare-store"] = [py, "-c", BARE_STORE, str(path)]
        commands["inspect"] = [py, "-c", INSPECT, "inspect", str(path), "--json"]
        commands["inspect-nv"] = [py, "-c", INSPECT, "inspect", str(path), "--json", "--no-validate"]
        commands["help"] = [py, "-m", "rdf2mm", "--help"]
        commands["train-help"] = [py, "-m", "rdf2mm", "train", "--help"]

        walls: dict[str, list[float]] = {k: [] for k in commands}
        cpus: dict[str, list[float]] = {k: [] for k in commands}
        torch_seen = set()
        for run in range(args.runs):
            for name, cmd in commands.items():
                run_env = dict(env)
                if name.startswith("inspect"):  # an empty cache per run: the file is read as if new
                    run_env["RDF2MM_CACHE"] = tempfile.mkdtemp(prefix=f"cache{run}-", dir=tmp)
                wall, cpu, err = timed(cmd, run_env)
                walls[name].append(wall)
                cpus[name].append(cpu)
                if "TORCH True" in err:
                    torch_seen.add(name)
            print(f"  run {run + 1}/{args.runs}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in walls.items()),
                  flush=True)

    print(f"\nwhole processes, {args.runs} runs each (seconds; cpu = user + system of the process)")
    print(f"{'command':<12} {'median':>8} {'min':>8} {'max':>8} {'cpu':>8}")
    for name in commands:
        w = walls[name]
        print(f"{name:<12} {statistics.median(w):>8.2f} {min(w):>8.2f} {max(w):>8.2f} "
              f"{statistics.median(cpus[name]):>8.2f}")
    ratio = statistics.median(walls["inspect"]) / statistics.median(walls["bare"])
    cpu_ratio = statistics.median(cpus["inspect"]) / statistics.median(cpus["bare"])
    print(f"\ninspect / bare parse (median wall): {ratio:.2f}x (target <= 1.5x); cpu: {cpu_ratio:.2f}x")
    print(f"rdf2mm --help median: {statistics.median(walls['help']):.2f} s (target < 0.5 s); "
          f"train --help: {statistics.median(walls['train-help']):.2f} s")
    nv = statistics.median(walls["inspect-nv"]) / statistics.median(walls["bare"])
    print(f"inspect --no-validate / bare parse (median wall): {nv:.2f}x")
    print(f"inspect imported torch: {'yes' if torch_seen else 'no'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
