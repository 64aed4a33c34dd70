#!/bin/sh
# Install everything, then run the test suite (real Redis, real workers, real API).
# Extra arguments go to pytest, e.g. scripts/test.sh -k ocr -x
set -eu
cd "$(dirname "$0")/.."
sh scripts/install.sh
sh scripts/install-browser.sh   # Debian's chromium + chromedriver, for tests/browser
sh scripts/install-compose.sh   # docker-compose, which checks the compose file without an engine
sh scripts/install-kubectl.sh   # kubectl, whose kustomize builds deploy/k8s without a cluster
exec .venv/bin/python -m pytest "$@"
