#!/bin/sh
# Install everything, then run the local stack: Redis (REDIS_URL, else one on :6379, else an
# embedded one), one worker per installed domain, the hooks worker, the API on :8000. Ctrl-C
# stops it all. Webhooks may go to loopback and private addresses here, and inputs by URL come
# from them: a receiver or a file server on this machine is the usual one (set
# WEBHOOK_ALLOW_PRIVATE=false and INPUT_URL_ALLOW_PRIVATE=false to check as a deployment does).
set -eu
cd "$(dirname "$0")/.."
sh scripts/install.sh
WEBHOOK_ALLOW_PRIVATE=${WEBHOOK_ALLOW_PRIVATE:-true}
INPUT_URL_ALLOW_PRIVATE=${INPUT_URL_ALLOW_PRIVATE:-true}
export WEBHOOK_ALLOW_PRIVATE INPUT_URL_ALLOW_PRIVATE
exec .venv/bin/python -m devtools.run_local "$@"
