#!/bin/sh
# Install docker-compose for tests/deploy, which validate docker-compose.domains.yml with
# `docker-compose config` (no Docker engine needed). Does nothing when it is already there.
# Debian's package (1.29): apt-get as root, or through sudo.
set -eu

command -v docker-compose >/dev/null 2>&1 && exit 0

if [ "$(id -u)" = 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    echo "install-compose.sh: docker-compose is missing and neither root nor sudo is available:" >&2
    echo "  install Debian's docker-compose package (or any docker-compose on PATH)" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-compose.sh: no apt-get here: install docker-compose (1.29+ or v2) on PATH" >&2
    exit 1
fi
echo "installing docker-compose (apt)..." >&2
$as_root apt-get update -qq >/dev/null
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
command -v docker-compose >/dev/null 2>&1
