#!/bin/sh
# Install everything, then run the test suite (real Redis, real workers, real API).
# Extra arguments go to pytest, e.g. scripts/test.sh -k ocr -x
set -eu
cd "$(dirname "$0")/.."
sh scripts/install.sh
sh scripts/install-browser.sh   # Debian's chromium + chromedriver, for tests/browser
sh scripts/install-compose.sh   # docker-compose, which checks the compose file without an engine
sh scripts/install-kubectl.sh   # kubectl, whose kustomize builds deploy/k8s without a cluster
# Two test processes (TEST_PROCESSES=0: one, as plain pytest), each with its own Redis, S3,
# workers and API (tests/conftest.py's session fixtures), a test file's tests in one process:
# the suite is mostly waiting on real processes, and two of them fill the machine's two cores.
processes=${TEST_PROCESSES:-2}
if [ "$processes" -gt 0 ]; then
    exec .venv/bin/python -m pytest -n "$processes" --dist loadfile "$@"
fi
exec .venv/bin/python -m pytest "$@"
