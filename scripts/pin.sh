#!/bin/sh
# Regenerate the images' exact pins: constraints/api.txt, ocr.txt, ocr-cpu.txt and llm.txt.
# They carry names and versions only (uv.lock records download addresses, so it is never
# committed); the Dockerfiles hand them to `uv sync` as [tool.uv] constraint-dependencies.
# Existing pins are kept; pass uv options to move them, e.g. scripts/pin.sh --upgrade
# or scripts/pin.sh --upgrade-package torch
set -eu
cd "$(dirname "$0")/.."

uv=${UV:-uv}
command -v "$uv" >/dev/null 2>&1 || uv=.venv/bin/uv
[ -x "$uv" ] || command -v "$uv" >/dev/null 2>&1 || {
    echo "pin.sh: uv not found: .venv/bin/python -m pip install uv (or set UV=/path/to/uv)" >&2
    exit 1
}

# The images' platform, whatever machine runs this.
target="--python-platform x86_64-manylinux_2_28 --python-version 3.11"

# `uv sync` locks every extra at once, so one role's pins must not exclude another role's
# versions: resolve the roles together first and derive each role's file from that.
joint=$(mktemp)
trap 'rm -f "$joint"' EXIT
# The current pins seed the joint file: uv keeps an output file's versions unless told to upgrade.
cat constraints/api.txt constraints/ocr.txt constraints/ocr-cpu.txt constraints/llm.txt 2>/dev/null | grep '==' | sort -u >"$joint" || true
# constraints/cpu.txt holds torch at the version the CPU test runs use: the images ship the same
# version (PyPI's CUDA build of it), so what the tests ran is what the GPU workers run.
# shellcheck disable=SC2086 # $target is two options on purpose
"$uv" pip compile pyproject.toml --extra ocr --extra llm --extra flower --constraint constraints/cpu.txt $target \
    --no-header --no-annotate --quiet --output-file "$joint" "$@"

pin() {
    role=$1
    shift
    out=constraints/$role.txt
    # shellcheck disable=SC2086
    "$uv" pip compile pyproject.toml "$@" --constraint "$joint" $target \
        --no-header --annotation-style line --quiet --output-file "$out"
    {
        echo "# Exact pins for the $role image (Linux x86_64, Python 3.11): regenerate with scripts/pin.sh."
        # The joint file is a temporary one: its name in the "# via" notes is noise.
        grep -v '^# Exact pins' "$out" | sed -e 's/, -c [^ ,]*//' -e 's/-c [^ ,]*, //'
    } >"$out.new"
    mv "$out.new" "$out"
    # A pin file is names and versions only: no index or download address may slip in.
    if grep -n -E '://|^-(-index-url|-extra-index-url|-find-links|i|f) ' "$out" >&2; then
        echo "pin.sh: $out records an address; remove it" >&2
        exit 1
    fi
}

pin api --extra flower # the API image also runs Flower
pin ocr --extra ocr
# The CPU paddle build (scripts/compose_check.sh, CPU-only hosts): it conflicts with "ocr", so it
# is not in the joint resolution; the joint pins still fix everything the two builds share.
pin ocr-cpu --extra ocr-cpu
pin llm --extra llm
# The llm worker without vLLM (transformers engine), for CPU images (scripts/compose_check.sh).
pin llm-cpu --extra llm-cpu
echo "pinned: constraints/api.txt constraints/ocr.txt constraints/ocr-cpu.txt constraints/llm.txt constraints/llm-cpu.txt" >&2
