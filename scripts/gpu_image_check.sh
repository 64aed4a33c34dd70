#!/bin/sh
# Build the real GPU worker images (Dockerfile.gpu: DOMAIN_EXTRA=ocr with paddlepaddle-gpu,
# DOMAIN_EXTRA=llm with PyPI's CUDA torch and vLLM) on a machine with no GPU, no Docker engine and
# no container registry, and check inside them all that runs short of a GPU kernel: the CUDA
# builds, every CUDA/cuDNN library paddle and torch open (by the names they open them), vLLM's
# import and platform detection, the llm worker's refusal to start without a GPU, and one job per
# image served end to end on the CPU against the API image. Podman (runc) and the debootstrap base
# as in scripts/compose_check.sh (scripts/podman_images.sh); the OCR image takes CUDA 11.8 and
# cuDNN 8 from NVIDIA's wheels (CUDA_FROM_WHEELS=1), as the nvidia/cuda base cannot be pulled here.
# Prints a table and writes it into docs/deploy.md ("GPU images"); exits non-zero on any failure.
# Needs root (apt, rootful podman) and ~35 GB of disk (17.5 GB of images, and podman's copies while it builds).
#
#   scripts/gpu_image_check.sh               # ~10 minutes on a fresh machine (~8 GB of wheels), ~2 once built
#   NO_DOCS=1 scripts/gpu_image_check.sh     # leave docs/deploy.md as it is
#
# Settings: CHECK_DIR (/var/tmp/domainq-gpu-check: logs, report), CHECK_API_PORT (18100),
# CA_BUNDLE (/etc/ssl/certs/ca-certificates.crt: the builds' ca_bundle secret), DEBIAN_MIRROR,
# REBUILD_BASE=1: as in scripts/compose_check.sh.
set -eu
cd "$(dirname "$0")/.."

me=gpu_image_check
work=${CHECK_DIR:-/var/tmp/domainq-gpu-check}
prefix=localhost/domainq-check
tag=gpu
base=$prefix/base:bookworm-python3.11
api_port=${CHECK_API_PORT:-18100}
ca_bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
uv_version=$(sed -n 's/^ARG UV_VERSION=//p' Dockerfile.gpu)
# The CUDA torch's toolkit (torch.version.cuda): the major.minor of the CUDA runtime it pins.
torch_cuda=$(sed -n 's/^nvidia-cuda-runtime==\([0-9]*\.[0-9]*\)\..*/\1/p' constraints/llm.txt)
# What paddle must be built for: the CUDA and cuDNN (major.minor) of the OCR image's wheels.
paddle_cuda=$(sed -n 's/^nvidia-cuda-runtime-cu[0-9]*==\([0-9]*\.[0-9]*\)\..*/\1/p' constraints/cuda11.txt)
paddle_cudnn=$(sed -n 's/^nvidia-cudnn-cu[0-9]*==\([0-9]*\.[0-9]*\)\..*/\1/p' constraints/cuda11.txt)

# The GPU images, one line each: the compose image name and its Dockerfile.gpu build args (the
# debootstrap base, its own Python; tests/deploy/test_gpu_images.py keeps them in step).
gpu_images="
worker-ocr DOMAIN_EXTRA=ocr CUDA_FROM_WHEELS=1
worker-llm DOMAIN_EXTRA=llm
"
# The unversioned names paddle 2.6's dynload opens (libphi.so: phi::dynload::Get*DsoHandle) for
# the CUDA work OCR does, and cuDNN 8's own sub-libraries, which it opens by soname.
paddle_libs="libcudnn.so libcublas.so libcublasLt.so libcusolver.so libcusparse.so libcurand.so libcufft.so libnvrtc.so"
cudnn_parts="libcudnn_ops_infer.so.8 libcudnn_cnn_infer.so.8 libcudnn_adv_infer.so.8"

mkdir -p "$work/logs"
chmod 700 "$work"
report=$work/report.md
: >"$work/builds.txt"
: >"$work/checks.txt"
started=$(date +%s)
# The tree the images are built from, as the run starts.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " with local changes" || true)
# The stack's containers, by name: the checks run in subshells, and cleanup must find them.
stack="gpu-check-worker gpu-check-api gpu-check-redis"

# say, die, setup_podman, make_base, make_uv_image, make_redis_image, build, mb
. ./scripts/podman_images.sh

build_images() {
    [ -s "$ca_bundle" ] || die "CA_BUNDLE $ca_bundle is missing"
    free_gb=$(df -Pk /var/lib/containers 2>/dev/null | awk 'NR == 2 {printf "%d", $4 / 1048576}')
    [ "${free_gb:-0}" -ge 35 ] || say "warning: ${free_gb:-?} GB free under /var/lib/containers; the builds need ~35"
    make_base
    make_uv_image
    make_redis_image
    build_platform "$gpu_images"
}

# check IMAGE NAME COMMAND...: run one check, record pass or FAIL with its time; the output in logs.
check() {
    image=$1 name=$2
    shift 2
    say "check $image: $name"
    t0=$(date +%s)
    log=$work/logs/check-$(echo "$image-$name" | tr -c 'A-Za-z0-9\n' '-' | cut -c1-80).log
    set +e
    (
        set -e
        "$@"
    ) >"$log" 2>&1
    status=$?
    set -e
    result=pass
    if [ "$status" != 0 ]; then
        result=FAIL
        tail -n 20 "$log" >&2
    fi
    # The last line a check prints is its evidence, shown in the table.
    evidence=$(grep -v '^$' "$log" | tail -n 1 | tr '|' '/' | cut -c1-240)
    echo "$image|$name|$result|$(($(date +%s) - t0))|$evidence" >>"$work/checks.txt"
}

py() { # IMAGE [podman run options...] -- python source on stdin
    image=$1
    shift
    podman run --rm -i --network none "$@" "$prefix/$image:$tag" python -
}

# --- OCR: paddlepaddle-gpu on CUDA 11.8 and cuDNN 8 from the wheels ---------------------------
ocr_cuda_build() {
    py worker-ocr -e PADDLE_CUDA="$paddle_cuda" -e PADDLE_CUDNN="$paddle_cudnn" <<'EOF'
import os

import paddle

assert paddle.device.is_compiled_with_cuda(), "paddle is not a CUDA build"
built = f"paddle {paddle.__version__}, compiled with CUDA {paddle.version.cuda()}, cuDNN {paddle.version.cudnn()}"
# Paddle opens unversioned names: only the CUDA major.minor and cuDNN it was built with are safe.
assert paddle.version.cuda() == os.environ["PADDLE_CUDA"], f"{built}; the image brings CUDA {os.environ['PADDLE_CUDA']}"
assert paddle.version.cudnn().startswith(os.environ["PADDLE_CUDNN"] + "."), f"{built}; the image brings cuDNN {os.environ['PADDLE_CUDNN']}"
print(built + ": as the image's libraries")
EOF
}

ocr_libraries_load() {
    py worker-ocr -e PADDLE_LIBS="$paddle_libs" -e CUDNN_PARTS="$cudnn_parts" -e CUDA_MAJOR="${paddle_cuda%%.*}" <<'EOF'
import ctypes
import os

loaded = []
for name in os.environ["PADDLE_LIBS"].split() + os.environ["CUDNN_PARTS"].split():
    lib = ctypes.CDLL(name)  # dlopen by this name: the loader's search, as paddle's own dlopen
    loaded.append(name)
cudnn = ctypes.CDLL("libcudnn.so").cudnnGetVersion()
major, minor = ctypes.c_int(), ctypes.c_int()
assert ctypes.CDLL("libnvrtc.so").nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)) == 0
# The CUDA runtime too (paddle links its own statically; cuDNN and cuBLAS may open it). With no
# driver, CUDA 11's cudaRuntimeGetVersion answers "insufficient driver"; the driver's version is 0.
major_, driver = os.environ["CUDA_MAJOR"], ctypes.c_int(-1)
cudart = ctypes.CDLL(f"libcudart.so.{major_}.0" if major_ == "11" else f"libcudart.so.{major_}")  # its soname
assert cudart.cudaDriverGetVersion(ctypes.byref(driver)) == 0
print(f"{len(loaded)} libraries load by paddle's names, and cudart: cuDNN {cudnn}, NVRTC {major.value}.{minor.value}, driver {driver.value or 'none'}")
EOF
}

# paddle's own loader, through a call that needs no GPU: the cuDNN version it reads from libcudnn.so.
ocr_paddle_loader() {
    py worker-ocr <<'EOF'
import paddle

version = paddle.device.get_cudnn_version()
assert version and version // 1000 == 8, f"paddle's loader found no cuDNN 8: {version}"
print(f"paddle.device.get_cudnn_version() = {version}; CUDA devices seen: {paddle.device.cuda.device_count()}")
EOF
}

# --- LLM: PyPI's CUDA torch, vLLM -----------------------------------------------------------
llm_torch_cuda() {
    py worker-llm -e TORCH_CUDA="$torch_cuda" <<'EOF'
import os

import torch

assert torch.version.cuda == os.environ["TORCH_CUDA"], f"torch.version.cuda is {torch.version.cuda}"
assert not torch.cuda.is_available() and torch.cuda.device_count() == 0
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
EOF
}

# import torch loads libtorch_cuda.so and the CUDA libraries it links (from the nvidia-* wheels'
# folders); cuDNN 9 opens its engine and op libraries on first use: load those by path too.
llm_torch_libraries() {
    py worker-llm <<'EOF'
import ctypes
import glob
import os

import torch

mapped = {os.path.basename(line.split()[-1]) for line in open("/proc/self/maps") if ".so" in line}
needed = ["libtorch_cuda.so", "libcudart", "libcublas", "libcublasLt", "libcudnn", "libcufft", "libcurand",
          "libcusolver", "libcusparse", "libcusparseLt", "libnccl", "libnvrtc", "libnvJitLink", "libcupti"]
missing = [n for n in needed if not any(m == n or m.startswith(n + ".so") for m in mapped)]
assert not missing, f"not loaded by import torch: {missing}"
site = os.path.dirname(os.path.dirname(torch.__file__))
cudnn = sorted(glob.glob(f"{site}/nvidia/cudnn*/lib/libcudnn*.so*"))
assert cudnn
for path in cudnn:
    ctypes.CDLL(path)
print(f"import torch loaded {len(needed)} CUDA libraries; {len(cudnn)} cuDNN {torch.backends.cudnn.version()} libraries load")
EOF
}

llm_vllm_platform() {
    py worker-llm <<'EOF'
import vllm
from vllm.platforms import current_platform

print(f"vllm {vllm.__version__}; platform without a GPU: {type(current_platform).__name__} ({current_platform.device_type or 'none'})")
EOF
}

# The worker as the image starts it, with no GPU and the default engine (vLLM): it must stop at
# once, saying so, before it ever reaches Redis (none is given).
llm_worker_without_gpu() {
    t0=$(date +%s)
    set +e
    out=$(timeout 300 podman run --rm --network none -e DOMAIN=llm -e REDIS_URL=redis://127.0.0.1:1/0 \
        "$prefix/worker-llm:$tag" 2>&1)
    code=$?
    set -e
    echo "$out"
    [ "$code" != 0 ] && [ "$code" != 124 ] || { echo "exit $code: it did not stop by itself"; exit 1; }
    echo "$out" | grep -q "no CUDA GPU" || { echo "the error does not name the missing GPU"; exit 1; }
    ! echo "$out" | grep -q "^Traceback" || { echo "a stack trace instead of a message"; exit 1; }
    echo "exit $code after $(($(date +%s) - t0)) s: $(echo "$out" | grep "no CUDA GPU" | head -n 1 | sed 's/ Give the worker.*//')"
}

# --- end to end: Redis, the API image, one worker, one job ------------------------------------
stop_stack() {
    for ctr in $stack; do podman rm -f -t 5 "$ctr" >/dev/null 2>&1 || true; done
}

random_hex() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

# start_stack IMAGE ENV...: Redis with a password, the API and the worker in Redis's network
# namespace (no DNS needed), the API published on 127.0.0.1:$api_port.
start_stack() {
    image=$1
    shift
    stop_stack
    password=$(random_hex)
    ADMIN_API_KEY=$(random_hex)
    export ADMIN_API_KEY
    API_URL=http://127.0.0.1:$api_port
    export API_URL
    url=redis://:$password@127.0.0.1:6379/0
    podman run -d --name gpu-check-redis -p "127.0.0.1:$api_port:8000" "$prefix/redis:$tag" \
        redis-server --requirepass "$password" --maxmemory 256mb --maxmemory-policy noeviction >/dev/null
    podman run -d --name gpu-check-api --network container:gpu-check-redis -e DOMAIN=all -e REDIS_URL="$url" \
        -e ADMIN_API_KEY="$ADMIN_API_KEY" "$prefix/api:$tag" >/dev/null
    # shellcheck disable=SC2046 # ENV=VALUE words, each an -e
    podman run -d --name gpu-check-worker --network container:gpu-check-redis -e REDIS_URL="$url" \
        $(for kv in "$@"; do printf ' -e %s' "$kv"; done) "$prefix/$image:$tag" >/dev/null
    python3 scripts/compose_probe.py ready 60
    domain=${image#worker-}
    wait_worker "$domain"
}

# The worker is online once /v1/domains counts it (no Flower in this stack); it must not exit meanwhile.
wait_worker() {
    deadline=$(($(date +%s) + 300))
    until [ "$(python3 scripts/compose_probe.py online "$1")" -ge 1 ] 2>/dev/null; do
        [ "$(podman inspect --format '{{.State.Running}}' gpu-check-worker)" = true ] ||
            { podman logs --tail 40 gpu-check-worker; die "the $1 worker exited"; }
        [ "$(date +%s)" -lt "$deadline" ] || { podman logs --tail 40 gpu-check-worker; die "no $1 worker online after 300 s"; }
        sleep 2
    done
}

ocr_job() {
    start_stack worker-ocr DOMAIN=ocr OCR_DEVICE=cpu OCR_CPU_THREADS=1
    python3 scripts/compose_probe.py wait 300 "$(python3 scripts/compose_probe.py submit-ocr "$work/page.b64")" >"$work/ocr-job.json"
    grep -q "Invoice" "$work/ocr-job.json" || { cat "$work/ocr-job.json"; exit 1; }
    echo "OCR job succeeded on the CPU: $(grep -o '"text": "[^"]*"' "$work/ocr-job.json" | head -n 3 | tr '\n' ' ')"
}

llm_job() {
    start_stack worker-llm DOMAIN=llm LLM_ENGINE=transformers LLM_DEVICE=cpu
    python3 scripts/compose_probe.py wait 600 "$(python3 scripts/compose_probe.py submit-llm)" >"$work/llm-job.json"
    echo "LLM job succeeded on the CPU (transformers): $(grep -o '"text": "[^"]*"' "$work/llm-job.json" | head -n 1 | cut -c1-100)"
}

# One line of text to read, as scripts/compose_check.sh renders it (PIL and its font, in the image).
render_page() {
    podman run --rm --network none "$prefix/worker-ocr:$tag" python -c "import base64, io
from PIL import Image, ImageDraw, ImageFont
image = Image.new('RGB', (780, 130), 'white')
ImageDraw.Draw(image).text((30, 30), 'Invoice 2026 total 42.50', fill='black', font=ImageFont.load_default(size=48))
out = io.BytesIO()
image.save(out, format='PNG')
print(base64.b64encode(out.getvalue()).decode())" >"$work/page.b64"
}

# --- report -------------------------------------------------------------------------------------
print_report() {
    {
        echo "Run of $(date -u +%Y-%m-%dT%H:%MZ), images built from commit $commit$dirty: $(nproc) cores, no GPU, $(podman --version)."
        echo
        echo "| image | build (s) | steps from cache | size (MB) |"
        echo "| --- | ---: | ---: | ---: |"
        for name in api $(echo "$gpu_images" | awk 'NF {print $1}'); do
            size=$(mb "$prefix/$name:$tag")
            awk -F'|' -v n="$name" -v s="$size" '$1 == n {printf "| %s | %s | %s | %s |\n", n, $2, $3, s}' "$work/builds.txt"
        done
        echo
        echo "| image | check | result | time (s) | what it saw |"
        echo "| --- | --- | --- | ---: | --- |"
        awk -F'|' '{printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5}' "$work/checks.txt"
        echo
        echo "gpu_image_check: $(grep -c '|pass|' "$work/checks.txt") passed, $(grep -c '|FAIL|' "$work/checks.txt") failed, $(($(date +%s) - started)) s"
    } >"$report"
    cat "$report"
}

# Between the markers in docs/deploy.md, the latest report replaces the one before.
write_docs() {
    [ -z "${NO_DOCS:-}" ] || return 0
    python3 - "$report" docs/deploy.md <<'EOF'
import sys
from pathlib import Path

report, doc = Path(sys.argv[1]).read_text(), Path(sys.argv[2])
start, end = "<!-- gpu_image_check: start -->", "<!-- gpu_image_check: end -->"
text = doc.read_text()
head, found, rest = text.partition(start)
assert found and end in rest, f"{doc} lacks the markers {start} ... {end}"
doc.write_text(head + start + "\n" + report.strip() + "\n" + end + rest.partition(end)[2])
EOF
}

cleanup() {
    status=$?
    stop_stack
    if [ -s "$work/checks.txt" ]; then
        print_report
        write_docs || say "could not write docs/deploy.md"
    fi
    [ "$status" = 0 ] && say "passed" || say "FAILED (exit $status); logs in $work/logs"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setup_podman
build_images
check worker-ocr "paddle is a CUDA $paddle_cuda / cuDNN $paddle_cudnn build, as the image's libraries" ocr_cuda_build
check worker-ocr "CUDA and cuDNN libraries load by the names paddle opens" ocr_libraries_load
check worker-ocr "paddle's own loader finds cuDNN" ocr_paddle_loader
render_page
check worker-ocr "OCR job end to end on the CPU (OCR_DEVICE=cpu), against the API image" ocr_job
check worker-llm "torch.version.cuda is $torch_cuda" llm_torch_cuda
check worker-llm "torch's CUDA libraries load" llm_torch_libraries
check worker-llm "import vllm, vLLM's platform detection" llm_vllm_platform
check worker-llm "the worker without a GPU stops at once, naming it" llm_worker_without_gpu
check worker-llm "LLM job end to end on the CPU (LLM_ENGINE=transformers), against the API image" llm_job
stop_stack
! grep -q '|FAIL|' "$work/checks.txt" || die "$(grep -c '|FAIL|' "$work/checks.txt") checks failed"
