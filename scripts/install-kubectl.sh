#!/bin/sh
# Install kubectl for tests/deploy, which build deploy/k8s with `kubectl kustomize` (no cluster
# needed). Does nothing when a kubectl is already there. Debian's package is kubernetes-client
# (kubectl 1.20, kustomize 2.0 built in): apt-get as root, or through sudo.
set -eu

command -v kubectl >/dev/null 2>&1 && exit 0

if [ "$(id -u)" = 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    echo "install-kubectl.sh: kubectl is missing and neither root nor sudo is available:" >&2
    echo "  install Debian's kubernetes-client package (or any kubectl 1.14+ on PATH)" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-kubectl.sh: no apt-get here: install kubectl (1.14+, which has kustomize) on PATH" >&2
    exit 1
fi
echo "installing kubectl (apt: kubernetes-client)..." >&2
$as_root apt-get update -qq >/dev/null
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
command -v kubectl >/dev/null 2>&1
