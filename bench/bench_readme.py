"""Every README command, in README order, as whole processes: seconds per step and in all.

The steps are the ones ``tests/test_readme.py`` runs (the README's ``rdf2mm`` and
``torchrun`` lines and its Python snippets), run the same way: in one fresh folder with
``examples/`` linked in and an empty parsed-graph cache, so that each step finds what the
earlier ones wrote, as a reader following the README would. The issue on speed asks for
all of them together in under 5 minutes on a 2-core machine.

    .venv/bin/python bench/bench_readme.py
    .venv/bin/python bench/bench_readme.py --top 5     # also list the five slowest steps
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_readme import readme_steps, step_argv  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=5, help="how many of the slowest steps to list")
    args = ap.parse_args()
    steps = readme_steps()
    times: list[tuple[float, str]] = []
    failed = 0
    with tempfile.TemporaryDirectory(prefix="rdf2mm-readme-") as tmp:
        root = Path(tmp)
        (root / "examples").symlink_to(ROOT / "examples")
        (root / "out").mkdir()
        env = {**os.environ, "RDF2MM_CACHE": str(root / "cache"), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
        start = time.perf_counter()
        for i, step in enumerate(steps, 1):
            argv, target = step_argv(step)
            t0 = time.perf_counter()
            proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, env=env)
            dt = time.perf_counter() - t0
            times.append((dt, f"{i:02d} {step.name}"))
            ok = proc.returncode == 0
            failed += not ok
            print(f"{dt:7.1f} s  {'ok ' if ok else 'FAILED'} {i:02d} {step.name}", flush=True)
            if target and ok:
                (root / target).write_text(proc.stdout)
        total = time.perf_counter() - start
    print(f"\n{len(steps)} README steps in {total:.1f} s ({total / 60:.1f} min; the issue's bar: 5 min), "
          f"{failed} failed, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    for dt, name in sorted(times, reverse=True)[: args.top]:
        print(f"  {dt:6.1f} s  {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
