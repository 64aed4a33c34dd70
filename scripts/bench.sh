#!/bin/sh
# Install everything, then run the benchmarks and print the markdown report (see docs/performance.md).
# Arguments go to scripts/benchmark.py, e.g. scripts/bench.sh --only ocr,llm --out docs/performance.md
set -eu
cd "$(dirname "$0")/.."
sh scripts/install.sh
# wrk (a C load client) keeps the client from being the bottleneck of the submission figure.
command -v wrk >/dev/null 2>&1 || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq wrk >/dev/null 2>&1; } || true
exec .venv/bin/python scripts/benchmark.py "$@"
