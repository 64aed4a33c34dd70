#!/bin/sh
# Install everything, then run the local stack: Redis (REDIS_URL, else one on :6379, else an
# embedded one), one worker per installed domain, the API on :8000. Ctrl-C stops it all.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install.sh
exec .venv/bin/python -m devtools.run_local "$@"
