"""Where an export goes: files (Parquet, RDF) written as one folder, a pyoxigraph store,
SPARQL Update and Graph Store Protocol endpoints."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import pyoxigraph as ox

from rdf2mm import vocab as V
from rdf2mm.errors import UsageError
from rdf2mm.export.parquet import write_parquet
from rdf2mm.export.rdf import RunGraph
from rdf2mm.export.reading import load_run
from rdf2mm.io.atomic import atomic_dir, write_json
from rdf2mm.io.targets import check_folder_target, is_export_dir
from rdf2mm.io.write import RDF_FORMATS, write_rdf

OUTPUTS = ("parquet", *RDF_FORMATS)
DEFAULT_OUTPUTS = ("parquet", "trig")


def parse_outputs(outputs: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"parquet,trig"`` or a list -> validated tuple; ``none``/empty -> ()."""
    if outputs is None:
        return ()
    items = outputs.split(",") if isinstance(outputs, str) else list(outputs)
    names = [s.strip().lower() for s in items if s.strip()]
    if names in (["none"], []):
        return ()
    unknown = [n for n in names if n not in OUTPUTS]
    if unknown:
        raise UsageError(f"unknown --output {', '.join(unknown)}; choose from {', '.join(OUTPUTS)} or none")
    return tuple(dict.fromkeys(names))


def export_run(
    run_dir: str | Path,
    outputs: str | Sequence[str] | None = DEFAULT_OUTPUTS,
    out_dir: str | Path | None = None,
    *,
    vectors: str = "tensor",
    base: str | None = None,
    store: str | Path | None = None,
    sparql_update: str | None = None,
    gsp: str | None = None,
    user: str | None = None,
    password: str | None = None,
    token: str | None = None,
    timeout: float = 60.0,
    batch_bytes: int = 4 << 20,
    progress: Callable[[str], None] | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Export ``run_dir``: files in ``out_dir`` (default ``run_dir/export``), then targets.

    The files are written as one folder, atomically: it replaces an earlier export (or
    an empty folder), anything else only with ``force`` (see :mod:`rdf2mm.io.targets`).

    ``outputs``: any of ``parquet, nt, ttl, trig, nq`` (a comma list or sequence; empty
    for none). ``vectors``: ``tensor`` (rdf-tensor JSON) or ``base64``. ``store``: a
    pyoxigraph store folder; ``sparql_update``/``gsp``: a remote endpoint (both together:
    one store, GSP batches swapped in by an Update ``MOVE``). Each target gets the run's
    named graph replaced, all or nothing, never duplicated. ``batch_bytes`` bounds each
    remote request's body. Returns a summary dict.
    """
    from rdf2mm.io.store import Auth, load_store, push_gsp, push_sparql_update

    say = progress or (lambda _m: None)
    started = time.perf_counter()
    formats = parse_outputs(outputs)
    if sparql_update or gsp:
        from rdf2mm.io.http import HttpClient

        HttpClient(timeout=timeout)  # a bad --timeout or size cap stops here, before anything is written
    run = load_run(run_dir)
    rg = RunGraph(run, vectors=vectors, base=base)
    out = Path(out_dir) if out_dir is not None else Path(run_dir) / "export"
    summary: dict[str, Any] = {"run": rg.iri, "graph": rg.iri, "run_dir": str(run_dir), "vectors": vectors,
                               "counts": rg.counts(), "files": {}}
    if formats:
        summary["out_dir"] = str(out)
        _write_files(rg, formats, out, summary, say, force)
    auth = Auth.resolve(user=user, password=password, token=token)
    if store:
        res = load_store(store, rg.iri, rg.quads)
        summary["store"] = {"path": str(store), **res}
        say(f"loaded {res['quads']} quads into {store} graph <{rg.iri}>")
    if sparql_update and not gsp:
        res = push_sparql_update(sparql_update, rg.iri, rg.quads, auth=auth, timeout=timeout, batch_bytes=batch_bytes)
        summary["sparql_update"] = res
        say(f"pushed {res['quads']} triples to {res['endpoint']} in {res['requests']} request(s)")
    if gsp:  # with sparql_update too: the same store's Update endpoint swaps the batches in
        res = push_gsp(gsp, rg.iri, rg.quads, auth=auth, timeout=timeout, batch_bytes=batch_bytes,
                       update_url=sparql_update)
        summary["gsp"] = res
        say(f"pushed {res['quads']} triples to {res['endpoint']} in {res['requests']} request(s)")
    summary["counts"]["quads"] = rg.quad_count  # None when no RDF was written
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return summary


def _write_files(rg: RunGraph, formats: Sequence[str], out: Path, summary: dict[str, Any],
                 say: Callable[[str], None], force: bool) -> None:
    """Every requested file into a temporary folder renamed onto ``out`` when complete:
    a failure (a full disk) leaves the earlier export, never a mix or a part."""
    replace = check_folder_target(out, is_export_dir, "an export", force)
    with atomic_dir(out, replace=replace) as tmp:
        for fmt in formats:
            t0 = time.perf_counter()
            if fmt == "parquet":
                paths = {name + ".parquet": path for name, path in write_parquet(rg, tmp).items()}
            else:
                path = write_rdf(rg.quads, tmp / f"run{RDF_FORMATS[fmt][1]}", fmt, V.PREFIXES)
                paths = {path.name: path}
            for name, path in paths.items():
                summary["files"][name] = {"path": str(out / path.name), "bytes": path.stat().st_size}
            say(f"wrote {fmt} in {time.perf_counter() - t0:.1f} s")
        # Marks the folder as an export, so a later export may replace it.
        write_json(tmp / "export.json", {"run": rg.iri, "run_dir": summary["run_dir"], "formats": list(formats),
                                         "files": sorted(summary["files"])})


def iter_quads(run_dir: str | Path, vectors: str = "tensor", base: str | None = None) -> Iterable[ox.Quad]:
    """All quads of a run's export (for custom sinks)."""
    return RunGraph(load_run(run_dir), vectors=vectors, base=base).quads()
