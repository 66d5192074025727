"""Benchmark rdf2mm's ingest against the parsers it is built on.

Generates (deterministically) a multimodal N-Triples file of ``--triples`` triples, or
uses ``--file``, then measures in one run, each in its own subprocess so that neither
time nor peak memory of one measurement pollutes another:

(a) rdflib ``Graph().parse`` alone (skip with ``--skip-rdflib``: it is slow);
(b) pyoxigraph's parse alone, iterating every quad;
(c) rdf2mm's full ingest: ``read_graph(..., cache=False)`` + modality inference;
(d) a cache-hit ``read_graph`` (after one run that fills a throw-away cache);
(e) the generic pyoxigraph builder, for reference (skip with ``--skip-generic``).

Usage::

    .venv/bin/python bench/bench_ingest.py --triples 1000000
    .venv/bin/python bench/bench_ingest.py --file graph.nt.gz --skip-rdflib
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
XSD = "http://www.w3.org/2001/XMLSchema#"


# ----------------------------------------------------------------- generator
def generate(path: Path, triples: int, seed: int = 0) -> Path:
    """Write a deterministic multimodal N-Triples file of exactly ``triples`` lines.

    About 40 % of the triples are entity-entity links over ~triples/10 entities (some
    blank nodes), the rest carry literals of many datatypes (strings with spaces and
    escapes, language-tagged text, numbers, dates, booleans, URIs, base64 blobs, WKT).
    """
    rng = np.random.default_rng(seed)
    n_ent = max(10, triples // 10)
    ent = [f"<http://example.org/e/{i}>" if i % 50 else f"_:b{i}" for i in range(n_ent)]
    rel = [f"<http://example.org/p/link{i}>" for i in range(12)]
    words = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu "
             "graph node edge literal modality image text \\\"quoted\\\" caf\u00e9").split()

    def lit(kind: int, r: np.random.Generator) -> tuple[str, str]:
        if kind == 0:
            return "name", '"' + " ".join(r.choice(words, size=r.integers(1, 8))) + '"'
        if kind == 1:
            return "label", '"' + " ".join(r.choice(words, size=3)) + '"@' + ("en", "nl", "de", "en-GB")[r.integers(4)]
        if kind == 2:
            return "count", f'"{r.integers(-1000, 100000)}"^^<{XSD}integer>'
        if kind == 3:
            return "weight", f'"{r.normal(0, 100):.6g}"^^<{XSD}double>'
        if kind == 4:
            return "price", f'"{r.integers(0, 10000) / 100:.2f}"^^<{XSD}decimal>'
        if kind == 5:
            return "born", f'"{r.integers(1900, 2024)}-{r.integers(1, 13):02d}-{r.integers(1, 29):02d}"^^<{XSD}date>'
        if kind == 6:
            return "seen", (f'"{r.integers(1990, 2024)}-{r.integers(1, 13):02d}-{r.integers(1, 29):02d}T'
                            f'{r.integers(0, 24):02d}:{r.integers(0, 60):02d}:00Z"^^<{XSD}dateTime>')
        if kind == 7:
            return "year", f'"{r.integers(1800, 2030)}"^^<{XSD}gYear>'
        if kind == 8:
            return "active", f'"{("true", "false")[r.integers(2)]}"^^<{XSD}boolean>'
        if kind == 9:
            return "homepage", f'"http://example.org/page/{r.integers(0, 10**6)}"^^<{XSD}anyURI>'
        if kind == 10:
            blob = r.integers(0, 256, size=48, dtype=np.uint8).tobytes()
            import base64

            return "image", f'"{base64.urlsafe_b64encode(blob).decode()}"^^<http://kgbench.info/dt#base64Image>'
        x, y = r.normal(5, 2, size=2)
        return "area", (f'"POLYGON (({x:.3f} {y:.3f}, {x + 1:.3f} {y:.3f}, {x + 1:.3f} {y + 1:.3f}, '
                        f'{x:.3f} {y:.3f}))"^^<http://www.opengis.net/ont/geosparql#wktLiteral>')

    subjects = rng.integers(0, n_ent, size=triples)
    is_link = rng.random(triples) < 0.4
    objects = rng.integers(0, n_ent, size=triples)
    rels = rng.integers(0, len(rel), size=triples)
    kinds = rng.integers(0, 12, size=triples)
    lines: list[str] = []
    with open(path, "w", encoding="utf-8") as f:
        for i in range(triples):
            s = ent[subjects[i]]
            if is_link[i]:
                lines.append(f"{s} {rel[rels[i]]} {ent[objects[i]]} .\n")
            else:
                pred, obj = lit(int(kinds[i]), rng)
                lines.append(f"{s} <http://example.org/p/{pred}> {obj} .\n")
            if len(lines) >= 100_000:
                f.write("".join(lines))
                lines.clear()
        f.write("".join(lines))
    return path


def make_input(folder: Path, triples: int, generator: str = "auto") -> tuple[Path, str]:
    """A fresh N-Triples file of about ``triples`` triples, and which generator wrote it."""
    if generator in ("auto", "synthetic"):
        try:
            from rdf2mm.synthetic import generate as synthetic
        except ImportError:
            if generator == "synthetic":
                raise
        else:
            ds = synthetic(folder / "synth", triples=triples, seed=0, format="nt", compress=False)
            return ds.graph_path, "rdf2mm.synthetic.generate"
    return generate(folder / f"bench-{triples}.nt", triples), "bench_ingest.generate"


# --------------------------------------------------------------- measurements
def _measure_rdflib(path: str) -> dict:
    import gzip

    import rdflib

    g = rdflib.Graph()
    if path.endswith(".gz"):
        with gzip.open(path, "rb") as f:
            g.parse(f, format="nt")
    else:
        g.parse(path, format="nt")
    return {"triples": len(g)}


def _measure_pyoxigraph(path: str) -> dict:
    import pyoxigraph as ox

    fmt = ox.RdfFormat.N_QUADS if ".nq" in path else ox.RdfFormat.N_TRIPLES
    n = 0
    if path.endswith(".gz"):
        import gzip

        with gzip.open(path, "rb") as f:
            for _ in ox.parse(f, format=fmt):
                n += 1
    else:
        for _ in ox.parse(path=path, format=fmt):
            n += 1
    return {"triples": n}


def _modalities(kg) -> dict:
    """Modality inference: the project's own if present, else a per-datatype lookup."""
    try:
        from rdf2mm.modalities.preprocess import infer_modalities
    except ImportError:
        infer_modalities = None
    if infer_modalities is not None:
        per_dt, codes = infer_modalities(kg)
        return {"modality_source": "rdf2mm", "datatypes": len(per_dt), "literals": int(len(codes))}
    table = {"integer": 0, "double": 0, "decimal": 0, "float": 0, "date": 1, "dateTime": 1, "gYear": 1,
             "string": 2, "langString": 2, "anyURI": 2, "base64Image": 3, "wktLiteral": 4, "boolean": 5}
    per_dt = {dt: table.get(dt.rsplit("#", 1)[-1], 6) for dt in kg.datatypes}
    code_of_dt = np.array([per_dt[dt] for dt in kg.datatypes] or [0], dtype=np.int8)
    codes = code_of_dt[kg.literal_datatype]
    return {"modality_source": "bench fallback", "datatypes": len(per_dt), "literals": int(len(codes))}


def _measure_rdf2mm(path: str) -> dict:
    from rdf2mm.graph.ingest import read_graph

    kg, _ = read_graph([path], cache=False)
    out = _modalities(kg)
    out.update(triples=kg.num_triples, entities=kg.num_entities, literals=kg.num_literals,
               path=kg.stats.get("reader", "?"), phases=kg.stats.get("phase_seconds"))
    return out


def _measure_generic(path: str) -> dict:
    import pyoxigraph as ox

    from rdf2mm.graph.build import GraphBuilder

    fmt = ox.RdfFormat.N_QUADS if ".nq" in path else ox.RdfFormat.N_TRIPLES
    b = GraphBuilder()
    if path.endswith(".gz"):
        import gzip

        with gzip.open(path, "rb") as f:
            b.add_quads(ox.parse(f, format=fmt))
    else:
        b.add_quads(ox.parse(path=path, format=fmt))
    kg = b.build()
    out = _modalities(kg)
    out.update(triples=kg.num_triples)
    return out


def _measure_cache_hit(path: str) -> dict:
    from rdf2mm.graph.ingest import read_graph

    kg, _ = read_graph([path], cache=True)
    return {"triples": kg.num_triples, "cache": kg.stats.get("cache")}


MEASURES = {
    "rdflib": _measure_rdflib,
    "pyoxigraph": _measure_pyoxigraph,
    "rdf2mm": _measure_rdf2mm,
    "generic": _measure_generic,
    "cache-hit": _measure_cache_hit,
}


IMPORTS = {
    "rdflib": ["rdflib"],
    "pyoxigraph": ["pyoxigraph"],
    "rdf2mm": ["rdf2mm.graph.ingest", "rdf2mm.modalities.preprocess"],
    "generic": ["pyoxigraph", "rdf2mm.graph.build", "rdf2mm.modalities.preprocess"],
    "cache-hit": ["rdf2mm.graph.ingest"],
}


def _child(name: str, path: str) -> None:
    """Run one measurement in this (fresh) process and print a JSON line.

    Module imports happen before the clock starts (torch comes with the modality code
    and would dominate otherwise); their time is reported apart.
    """
    import importlib
    import resource

    t0 = time.perf_counter()
    for module in IMPORTS[name]:
        try:
            importlib.import_module(module)
        except ImportError:
            pass
    imports = time.perf_counter() - t0
    t0 = time.perf_counter()
    c0 = resource.getrusage(resource.RUSAGE_SELF)
    out = MEASURES[name](path)
    out["seconds"] = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    # CPU time (all threads) is less sensitive than wall time to a busy machine
    out["cpu_seconds"] = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    out["import_seconds"] = imports
    # ru_maxrss is in KiB on Linux; measured inside the child so nothing else counts
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(out))


def run_child(name: str, path: str, env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", name, path], capture_output=True, text=True,
                          env=env, cwd=ROOT)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--triples", type=int, default=1_000_000)
    ap.add_argument("--file", type=Path, help="benchmark this file instead of a generated one")
    ap.add_argument("--skip-rdflib", action="store_true")
    ap.add_argument("--generator", choices=["auto", "synthetic", "simple"], default="auto",
                    help="rdf2mm.synthetic.generate (auto: when present) or this script's simple one")
    ap.add_argument("--skip-generic", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best time is kept")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0

    with tempfile.TemporaryDirectory(prefix="rdf2mm-bench-") as tmp:
        if args.file:
            path = args.file.resolve()
        else:
            t0 = time.perf_counter()
            path, how = make_input(Path(tmp), args.triples, args.generator)
            print(f"generated {path.name} with {how}: ~{args.triples:,} triples, "
                  f"{path.stat().st_size / 2**20:.0f} MiB in {time.perf_counter() - t0:.1f} s")
        env = dict(os.environ, RDF2MM_CACHE=str(Path(tmp) / "cache"), PYTHONPATH=str(ROOT))
        names = ["pyoxigraph", "rdf2mm"]
        if not args.skip_generic:
            names.append("generic")
        if not args.skip_rdflib:
            names.insert(0, "rdflib")
        results: dict[str, dict] = {}
        for name in names:
            runs = [run_child(name, str(path), env) for _ in range(max(1, args.repeat))]
            ok = [r for r in runs if "error" not in r]
            results[name] = min(ok, key=lambda r: r["seconds"]) if ok else runs[0]
        run_child("cache-hit", str(path), env)  # fills the cache
        results["cache-hit"] = run_child("cache-hit", str(path), env)

    labels = {
        "rdflib": "(a) rdflib Graph().parse",
        "pyoxigraph": "(b) pyoxigraph parse (iterate quads)",
        "rdf2mm": "(c) rdf2mm read_graph + modalities",
        "generic": "(e) generic builder + modalities",
        "cache-hit": "(d) rdf2mm read_graph, cache hit",
    }
    print(f"\n{'measurement':40} {'seconds':>9} {'peak MiB':>9} {'triples':>10} {'cpu s':>7} {'imports s':>10}")
    for name in ["rdflib", "pyoxigraph", "rdf2mm", "cache-hit", "generic"]:
        r = results.get(name)
        if r is None:
            continue
        if "error" in r:
            print(f"{labels[name]:40} error: {r['error']}")
            continue
        print(f"{labels[name]:40} {r['seconds']:9.2f} {r['peak_mib']:9.0f} {r.get('triples', 0):10,} "
              f"{r.get('cpu_seconds', 0):7.2f} {r.get('import_seconds', 0):10.2f}")
    base, full = results.get("pyoxigraph", {}), results.get("rdf2mm", {})
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print(f"\nwarning: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: wall times are noisy")
    if "seconds" in base and "seconds" in full:
        print(f"\nfull ingest / pyoxigraph parse = {full['seconds'] / base['seconds']:.2f}x "
              f"(target <= 1.5x); rdf2mm reader: {full.get('path')}, modalities: {full.get('modality_source')}")
        if full.get("phases"):
            print("fast-path phases (s): " + ", ".join(f"{k} {v:.2f}" for k, v in full["phases"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
