"""Forward+backward time and peak memory of one R-GCN layer: rdf2mm vs PyG vs a lower bound.

    python bench/bench_rgcn.py [--nodes 100000 --edges 1000000 --relations 90 --dim 16
                                --bases 30 --repeat 3 --device cpu --threads N --skip-slow]

Each method runs in its own child process so that peak RSS is per method. The "lower
bound" is the minimal work of the stacked formulation: one CSR spmm of the ``[N, R*N]``
adjacency by a dense ``[R*N, d]`` matrix, plus its backward (spmm by the precomputed
transpose). The rdf2mm layer works on (node, relation) pairs instead and can beat it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

METHODS = ["lower_bound", "rdf2mm", "pyg_fast", "pyg_rgcnconv"]
LABELS = {
    "lower_bound": "lower bound: stacked CSR spmm + bwd",
    "rdf2mm": "rdf2mm RGCNLayer (bases)",
    "pyg_fast": "PyG FastRGCNConv (bases)",
    "pyg_rgcnconv": "PyG RGCNConv (bases)",
}


def graph(args: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    edge_index = torch.randint(0, args.nodes, (2, args.edges), generator=g)
    edge_type = torch.randint(0, args.relations, (args.edges,), generator=g)
    return edge_index, edge_type


class _StackedSpMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, a_t, y):  # type: ignore[override]
        ctx.a_t = a_t
        return torch.sparse.mm(a, y)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        return None, None, torch.sparse.mm(ctx.a_t, grad)


def rss_now_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(args: argparse.Namespace) -> dict:
    """Set up one method, time ``repeat`` forward+backward passes, report min time and peak memory."""
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    n, r, d = args.nodes, args.relations, args.dim
    edge_index, edge_type = graph(args)
    t0 = time.perf_counter()
    if args.method == "lower_bound":
        src, dst = edge_index
        col = edge_type * n + src
        ones = torch.ones(args.edges)
        a = torch.sparse_coo_tensor(torch.stack([dst, col]), ones, (n, r * n)).coalesce().to_sparse_csr().to(dev)
        a_t = torch.sparse_coo_tensor(torch.stack([col, dst]), ones, (r * n, n)).coalesce().to_sparse_csr().to(dev)
        inp = torch.randn(r * n, d, device=dev, requires_grad=True)

        def step() -> torch.Tensor:
            return _StackedSpMM.apply(a, a_t, inp)

    elif args.method == "rdf2mm":
        from rdf2mm.models.rgcn import RelationalAdjacency, RGCNLayer

        adj = RelationalAdjacency(edge_index, edge_type, n, r).to(dev)
        layer = RGCNLayer(d, d, r, num_bases=args.bases).to(dev)
        inp = torch.randn(n, d, device=dev, requires_grad=True)

        def step() -> torch.Tensor:
            return layer(inp, adj)

    else:
        from torch_geometric.nn import FastRGCNConv, RGCNConv

        cls = FastRGCNConv if args.method == "pyg_fast" else RGCNConv
        layer = cls(d, d, r, num_bases=args.bases, aggr="mean").to(dev)
        ei, et = edge_index.to(dev), edge_type.to(dev)
        inp = torch.randn(n, d, device=dev, requires_grad=True)

        def step() -> torch.Tensor:
            return layer(inp, ei, et)

    setup_s = time.perf_counter() - t0
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    base_mb = rss_now_mb()
    grad_out = torch.randn(n, d, device=dev)
    times = []
    for i in range(args.repeat + (1 if args.warmup else 0)):
        t = time.perf_counter()
        out = step()
        (out * grad_out).sum().backward()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if i or not args.warmup:
            times.append(time.perf_counter() - t)
        inp.grad = None
        del out
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res = {
        "method": args.method,
        "setup_s": setup_s,
        "min_s": min(times),
        "median_s": sorted(times)[len(times) // 2],
        "peak_rss_mb": peak_rss_mb,
        "peak_over_setup_mb": peak_rss_mb - base_mb,
    }
    if dev.type == "cuda":
        res["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=100_000)
    p.add_argument("--edges", type=int, default=1_000_000)
    p.add_argument("--relations", type=int, default=90)
    p.add_argument("--dim", type=int, default=16)
    p.add_argument("--bases", type=int, default=30)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--skip-slow", action="store_true", help="skip PyG RGCNConv (tens of seconds on CPU)")
    p.add_argument("--no-warmup", dest="warmup", action="store_false", help="time the first pass too")
    p.add_argument("--method", choices=METHODS, help=argparse.SUPPRESS)  # child mode
    args = p.parse_args()
    if args.method:
        print(json.dumps(child(args)))
        return

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, python {platform.python_version()}, {platform.machine()}, "
          f"threads {torch.get_num_threads()}, cpus {os.cpu_count()}, load avg {os.getloadavg()[0]:.1f}")
    if args.device.startswith("cuda"):
        print(f"device {torch.cuda.get_device_name(args.device)}")
    print(f"graph: {args.nodes} nodes, {args.edges} edges, {args.relations} relations, dim {args.dim}, "
          f"{args.bases} bases; {args.repeat} timed passes (min reported)\n")
    methods = [m for m in METHODS if not (args.skip_slow and m == "pyg_rgcnconv")]
    results = {}
    for m in methods:
        cmd = [sys.executable, __file__, "--method", m] + [
            a for k, v in vars(args).items() if k not in ("method", "skip_slow", "warmup")
            for a in (f"--{k.replace('_', '-')}", str(v))
        ] + ([] if args.warmup else ["--no-warmup"])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{m}: failed\n{proc.stderr[-2000:]}")
            continue
        results[m] = json.loads(proc.stdout.strip().splitlines()[-1])
    lb = results.get("lower_bound", {}).get("min_s")
    mem_col = "cuda peak MB" if args.device.startswith("cuda") else "peak RSS MB (+over setup)"
    print(f"{'method':38s} {'min s':>8s} {'median s':>9s} {'x lower':>8s} {'setup s':>8s}  {mem_col}")
    for m, r in results.items():
        ratio = f"{r['min_s'] / lb:8.2f}" if lb else f"{'-':>8s}"
        mem = (f"{r['cuda_peak_mb']:.0f}" if "cuda_peak_mb" in r
               else f"{r['peak_rss_mb']:.0f} (+{r['peak_over_setup_mb']:.0f})")
        print(f"{LABELS[m]:38s} {r['min_s']:8.3f} {r['median_s']:9.3f} {ratio} {r['setup_s']:8.2f}  {mem}")


if __name__ == "__main__":
    main()
