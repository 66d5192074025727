#!/usr/bin/env bash
# A nightly pipeline around rdf2mm: check the input, train, export for downstream jobs.
# Every step prints machine-readable JSON on stdout; messages go to stderr; a failing
# step stops the script with rdf2mm's documented exit code (3 input, 4 data, 5 remote, ...).
set -euo pipefail
graph=${1:-examples/museum.ttl}
work=${2:-out/nightly}
mkdir -p "$work"

rdf2mm --quiet inspect "$graph" --json > "$work/inspect.json"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(1 if r["triples"] == 0 else 0)' "$work/inspect.json"

rdf2mm --quiet train "$graph" --target http://example.org/museum#movement \
    --out "$work/run" --json > "$work/metrics.json"

rdf2mm --quiet export "$work/run" --output parquet,nt --out "$work/export" --json > "$work/export.json"
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print("test accuracy %.3f" % m["test_accuracy"])' "$work/metrics.json"
