"""Benchmark ``rdf2mm encode``: time and peak memory per stage on a generated graph.

Generates ``rdf2mm.synthetic.generate(tmp, triples=N)`` (all modalities, up to 20,000
images), then runs the encode stages in one process with the parsed-graph cache off:
read, message graph, each modality's preprocessing, writing (``--as files``; add
``--pyg`` to time ``--as pyg`` too). A sampling thread reads the resident set size
(``/proc/self/statm``) every few milliseconds; "peak" is the highest RSS seen during a
stage and "+peak" how far it rose above the RSS at the stage's start.

Usage::

    .venv/bin/python bench/bench_encode.py                 # 10^6 triples
    .venv/bin/python bench/bench_encode.py --triples 100000 --pyg
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


class Sampler:
    """Peak RSS per stage, from a background thread."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak = 0
        self.rows: list[tuple[str, float, int, int, int]] = []
        self._open: dict[str, tuple[float, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss())
            time.sleep(self.interval)

    def __call__(self, stage: str, phase: str) -> None:
        now = rss()
        if phase == "start":
            self.peak = now
            self._open[stage] = (time.perf_counter(), now)
        else:
            t0, start = self._open.pop(stage)
            self.peak = max(self.peak, now)
            self.rows.append((stage, time.perf_counter() - t0, start, self.peak, now))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--triples", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pyg", action="store_true", help="also time writing --as pyg")
    ap.add_argument("--workdir", help="where to generate (default: a temporary folder)")
    args = ap.parse_args()

    from rdf2mm.synthetic import generate

    work = Path(args.workdir or tempfile.mkdtemp(prefix="rdf2mm-bench-encode-"))
    graph = work / "synth"
    t0 = time.perf_counter()
    if not (graph / "manifest.json").exists():
        generate(graph, triples=args.triples, seed=args.seed)
    gen_s = time.perf_counter() - t0

    import rdf2mm.encoding  # noqa: F401 - imports (torch, modalities) are not a stage
    from rdf2mm.encoding import encode

    mib = 1 << 20
    base = rss()
    sampler = Sampler()
    enc = encode(graph / "graph.nt", work / "out-files", to="files", cache=False, overwrite=True, on_stage=sampler)
    if args.pyg:
        sampler("write (--as pyg)", "start")
        enc.write(work / "out-pyg", to="pyg", overwrite=True)
        sampler("write (--as pyg)", "end")
    sampler.stop()

    c = enc.manifest["counts"]
    print(f"graph: {c['triples']:,} triples ({gen_s:.1f} s to generate), {c['entities']:,} entities, "
          f"{c['literals']:,} distinct literals -> {c['nodes']:,} nodes, {c['edges']:,} edges, {c['relations']} relation types")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; RSS after imports {base / mib:.0f} MiB; cache off\n")
    print(f"{'stage':<22}{'seconds':>9}{'RSS start':>11}{'peak':>9}{'+peak':>9}{'RSS end':>9}   (MiB)")
    total = 0.0
    for stage, secs, start, peak, end in sampler.rows:
        total += secs if stage != "write (--as pyg)" else 0.0
        print(f"{stage:<22}{secs:>9.2f}{start / mib:>11.0f}{peak / mib:>9.0f}{(peak - start) / mib:>9.0f}{end / mib:>9.0f}")
    print(f"{'total (files)':<22}{total:>9.2f}")
    print(f"\nmax RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    sizes = {p.relative_to(work / "out-files"): p.stat().st_size for p in (work / "out-files").rglob("*") if p.is_file()}
    print("output (--as files): " + ", ".join(f"{k} {v / mib:.1f} MiB" for k, v in sorted(sizes.items(), key=str)))
    if args.pyg:
        print(f"output (--as pyg): data.safetensors {(work / 'out-pyg' / 'data.safetensors').stat().st_size / mib:.1f} MiB")


if __name__ == "__main__":
    main()
