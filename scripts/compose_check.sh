#!/bin/sh
# Build the images and run docker-compose.domains.yml for real, on the CPU, on a machine with no
# Docker engine and no container registry: podman (runc) serves the Docker API to Debian's
# docker-compose 1.29, the base image is made from Debian packages with debootstrap, and the
# images are built from this checkout with CPU variants of the worker extras. Then: one worker
# per domain, an OCR and an LLM job over HTTP, --scale worker-ocr=3 with 30 jobs, a warm stop of
# a busy OCR container, Redis recreated with jobs queued, down -v. Prints a report; exits non-zero
# on any failure. Needs root (apt, rootful podman). See docs/deploy.md, "The compose check".
#
#   scripts/compose_check.sh             # 4-11 minutes on a fresh machine (by load), ~1.5 once images are cached
#   KEEP=1 scripts/compose_check.sh      # leave the stack up afterwards (then: see the last lines)
#
# Settings: CHECK_DIR (/var/tmp/domainq-check: logs, env file, report), CHECK_API_PORT (18000),
# CHECK_FLOWER_PORT (15555), CA_BUNDLE (/etc/ssl/certs/ca-certificates.crt: given to the builds
# as a secret), DEBIAN_MIRROR (read from apt's sources), REBUILD_BASE=1 (make the base again).
set -eu
cd "$(dirname "$0")/.."

me=compose_check
work=${CHECK_DIR:-/var/tmp/domainq-check}
project=domainq-check
prefix=localhost/domainq-check
tag=cpu
base=$prefix/base:bookworm-python3.11
api_port=${CHECK_API_PORT:-18000}
flower_port=${CHECK_FLOWER_PORT:-15555}
ca_bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
torch_version=$(sed -n 's/^torch==\([^ ]*\).*/\1/p' constraints/cpu.txt)
uv_version=$(sed -n 's/^ARG UV_VERSION=//p' Dockerfile.gpu)

# The worker images, one line each: the compose image name and its Dockerfile.gpu build args.
# A variant (say, vLLM on the CPU) is one more line here; the line named worker-llm is what runs.
worker_images="
worker-ocr DOMAIN_EXTRA=ocr-cpu
worker-llm DOMAIN_EXTRA=llm-cpu FIND_LINKS=/wheels EXTRA_PINS=torch==${torch_version}+cpu
"

mkdir -p "$work/logs"
chmod 700 "$work"
report=$work/report.md
: >"$work/steps.txt"
: >"$work/builds.txt"
started=$(date +%s)
service_pid="" ticker_pid="" stack_up=""

# say, die, setup_podman, make_base, make_uv_image, make_redis_image, build, mb
. ./scripts/podman_images.sh

# --- the machine: packages, podman's configuration, its Docker API ------------------------------
setup_machine() {
    setup_podman /usr/lib/cni/dnsname:golang-github-containernetworking-plugin-dnsname
    sh scripts/install-compose.sh
    # docker-compose's own Python has PyYAML: it edits the merged compose file below.
    compose_python=$(sed -n '1s/^#! *//p' "$(command -v docker-compose)")
    "$compose_python" -c 'import yaml' 2>/dev/null || compose_python=python3

    sock=$work/podman.sock
    rm -f "$sock"
    podman system service --time=0 "unix://$sock" >"$work/logs/podman-service.log" 2>&1 &
    service_pid=$!
    i=0
    until [ -S "$sock" ]; do
        i=$((i + 1))
        [ "$i" -lt 100 ] || die "podman system service did not open $sock: $work/logs/podman-service.log"
        sleep 0.1
    done
    DOCKER_HOST=unix://$sock
    export DOCKER_HOST
}

# --- images --------------------------------------------------------------------------------------
# The CPU torch from pip's local wheels (PyPI's own torch for x86_64 is the CUDA build).
fetch_torch_wheel() {
    ls wheels/torch-"$torch_version"+cpu-*.whl >/dev/null 2>&1 && return
    python3 -m pip download -q --no-index --no-deps -d wheels/ "torch==$torch_version" >"$work/logs/torch.log" 2>&1 || true
    ls wheels/torch-"$torch_version"+cpu-*.whl >/dev/null 2>&1 ||
        die "no CPU build of torch $torch_version among pip's local wheels: copy torch-$torch_version+cpu-cp311-*.whl into wheels/"
    rm -f wheels/torch-"$torch_version"-*.whl
}

build_images() {
    [ -s "$ca_bundle" ] || die "CA_BUNDLE $ca_bundle is missing"
    make_base
    make_uv_image
    fetch_torch_wheel
    make_redis_image
    build_platform "$worker_images"
    # The API image is the light one: no model library may have slipped in.
    found=$(podman run --rm "$prefix/api:$tag" python -c "import importlib.util as u
print(*[m for m in ('torch', 'paddle', 'transformers') if u.find_spec(m)])" 2>/dev/null)
    [ -z "$found" ] || die "the API image carries a model library: $found"
}

# --- the stack -----------------------------------------------------------------------------------
random_hex() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

prepare_compose() {
    env_file=$work/check.env
    (
        umask 077
        cat >"$env_file" <<EOF
REDIS_PASSWORD=$(random_hex)
FLOWER_BASIC_AUTH=check:$(random_hex)
ADMIN_API_KEY=$(random_hex)
IMAGE_PREFIX=$prefix
IMAGE_TAG=$tag
API_PORT=$api_port
FLOWER_PORT=$flower_port
OCR_DEVICE=cpu
OCR_CPU_THREADS=1
LLM_DEVICE=cpu
EOF
    )
    # The check's CPU override: Redis from the local image, and the CPU images' build arguments
    # (for the record: the images are built above and compose runs with --no-build).
    cat >"$work/compose.cpu.yml" <<EOF
services:
  redis:
    image: $prefix/redis:$tag
  worker-ocr:
    build:
      args: {DOMAIN_EXTRA: ocr-cpu}
  worker-llm:
    build:
      args: {DOMAIN_EXTRA: llm-cpu, FIND_LINKS: /wheels, EXTRA_PINS: "torch==${torch_version}+cpu"}
EOF
    # docker-compose 1.29 merges device lists and cannot drop them in an override: resolve the
    # main file with the override, then drop the GPU reservations from the result.
    (umask 077 && docker-compose --env-file "$env_file" -f docker-compose.domains.yml -f "$work/compose.cpu.yml" \
        config >"$work/compose.yml")
    "$compose_python" - "$work/compose.yml" <<'EOF'
import sys

import yaml

path = sys.argv[1]
with open(path) as f:
    config = yaml.safe_load(f)
for service in config["services"].values():
    reservations = service.get("deploy", {}).get("resources", {}).get("reservations", {})
    if reservations.pop("devices", None) is not None:
        print(f"  dropped the GPU reservation of {service['image']}", file=sys.stderr)
with open(path, "w") as f:
    yaml.safe_dump(config, f, sort_keys=False)
EOF
    set -a
    # shellcheck disable=SC1090 # the file written above
    . "$env_file"
    set +a
    API_URL=http://127.0.0.1:$api_port FLOWER_URL=http://127.0.0.1:$flower_port
    export API_URL FLOWER_URL
}

dc() { docker-compose -p "$project" -f "$work/compose.yml" "$@" >>"$work/logs/compose.log" 2>&1; }
probe() { python3 scripts/compose_probe.py "$@"; }
containers() { podman ps -q --no-trunc --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$1"; }

# Podman runs healthchecks from systemd timers; without systemd (containers, CI) nothing runs
# them and `depends_on: service_healthy` would wait forever, so run them here as the timers would.
start_health_ticker() {
    [ -S /run/systemd/private ] && return
    (
        while :; do
            for id in $(podman ps -q --filter "label=com.docker.compose.project=$project"); do
                podman healthcheck run "$id" >/dev/null 2>&1 || true
            done
            sleep 3
        done
    ) &
    ticker_pid=$!
}

wait_healthy() { # SERVICE TIMEOUT_S
    deadline=$(($(date +%s) + $2))
    while :; do
        states=""
        for id in $(containers "$1"); do states="$states $(podman inspect --format '{{.State.Health.Status}}' "$id")"; done
        case "$states" in *healthy*) case "$states" in *starting* | *unhealthy*) ;; *) return 0 ;; esac ;; esac
        [ "$(date +%s)" -lt "$deadline" ] || die "$1 not healthy after $2 s:$states"
        sleep 2
    done
}

expect_count() { # SERVICE N
    n=$(containers "$1" | wc -l)
    [ "$n" -eq "$2" ] || die "$1: $n containers running, expected $2"
}

# step NAME FUNCTION: run (in a subshell, errexit on), time and record one check.
step() {
    say "step: $1"
    t0=$(date +%s)
    set +e
    (
        set -e
        "$2"
    )
    status=$?
    set -e
    if [ "$status" != 0 ]; then
        echo "$1|FAIL|$(($(date +%s) - t0))" >>"$work/steps.txt"
        say "step failed: $1 (logs: $work/logs/compose.log)"
        docker-compose -p "$project" -f "$work/compose.yml" logs --tail 40 >"$work/logs/services.log" 2>&1 || true
        tail -n 60 "$work/logs/services.log" >&2
        exit 1
    fi
    echo "$1|pass|$(($(date +%s) - t0))" >>"$work/steps.txt"
}

step_up() {
    dc down -v --remove-orphans # what an interrupted earlier run may have left
    dc up -d --no-build
    wait_healthy redis 60
    wait_healthy api 120
    wait_healthy flower 120
    expect_count worker-ocr 1
    expect_count worker-llm 1
    probe ready 60
    probe workers ocr 1 180 >&2
    probe workers llm 1 180 >&2
}

step_locked_down() {
    redis=$(containers redis)
    case "$(podman exec "$redis" sh -c 'REDISCLI_AUTH= redis-cli ping' 2>&1)" in
        *NOAUTH*) ;; *) die "Redis answered without its password" ;; esac
    policy=$(podman exec "$redis" redis-cli config get maxmemory-policy | tail -n 1)
    maxmemory=$(podman exec "$redis" redis-cli config get maxmemory | tail -n 1)
    [ "$policy" = noeviction ] && [ "$maxmemory" -gt 0 ] || die "Redis maxmemory $maxmemory, policy $policy"
    published=$(podman port "$(containers flower)")
    case "$published" in "5555/tcp -> 127.0.0.1:$flower_port") ;; *) die "Flower published as: $published" ;; esac
    probe flower-needs-login
}

step_first_jobs() {
    ocr=$(probe submit-ocr "$work/page.b64")
    llm=$(probe submit-llm)
    probe wait 120 "$ocr" >"$work/first-ocr.json"
    cat "$work/first-ocr.json" >&2
    grep -q '"text": "Invoice 2026 total 42.50' "$work/first-ocr.json" || die "OCR read something else"
    # The first LLM job converts the default model into the model-cache volume first.
    probe wait 900 "$llm" >"$work/first-llm.json"
    cat "$work/first-llm.json" >&2
    grep -q '"text": "[^"]' "$work/first-llm.json" || die "the LLM answered nothing"
}

step_scale() {
    dc up -d --no-build --scale worker-ocr=3
    expect_count worker-ocr 3
    probe workers ocr 3 240 >&2
}

step_thirty_jobs() {
    # shellcheck disable=SC2046 # job ids, one word each
    probe wait 600 $(probe submit-ocr "$work/page.b64" 30) >"$work/thirty.json"
    spread=$(sed -n 's/.*"worker": "\([^"]*\)".*/\1/p' "$work/thirty.json" | sort | uniq -c | sort -rn)
    echo "$spread" >&2
    [ "$(grep -c '"status": "succeeded"' "$work/thirty.json")" -eq 30 ] || die "not all 30 jobs succeeded"
    [ "$(echo "$spread" | wc -l)" -ge 2 ] || die "all 30 jobs ran on one container"
    echo "$spread" | awk '{printf "%s%s x%s", sep, $2, $1; sep = ", "}' >"$work/spread.txt"
}

step_warm_stop() {
    long=$(probe submit-ocr "$work/long.b64")
    # shellcheck disable=SC2046
    others=$(probe submit-ocr "$work/page.b64" 8)
    node=$(probe running 120 "$long")
    ctr=${node#ocr@} # the container's hostname: its short id
    t0=$(date +%s)
    sent=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
    # Like `docker stop`: SIGTERM, then the container's grace period (compose's stop_grace_period).
    podman stop "$ctr" >/dev/null
    podman inspect --format '{{index .Config.Labels "com.docker.compose.service"}}' "$ctr" | grep -qx worker-ocr ||
        die "job ran on $node, not one of the worker-ocr containers"
    now=$(probe status "$long")
    printf '%s\n' "$now" >&2
    case "$now" in *'"status": "succeeded"'*"\"worker\": \"$node\""*'"attempts": 1'*) ;;
        *) die "the job running on the stopped container did not finish there: $now" ;; esac
    finished=$(printf '%s\n' "$now" | sed -n 's/.*"finished_at": "\([^"]*\)".*/\1/p')
    awk -v a="$sent" -v b="$finished" 'BEGIN {exit !(a < b)}' ||
        die "the job had finished ($finished) before the stop was sent ($sent): nothing was proven"
    code=$(podman inspect --format '{{.State.ExitCode}}' "$ctr")
    [ "$code" = 0 ] || die "the stopped worker exited with $code"
    grace=$(podman inspect --format '{{.Config.StopTimeout}}' "$ctr")
    # shellcheck disable=SC2086
    probe wait 300 $others >"$work/others.json"
    echo "SIGTERM to $node at ${sent#*T} while its job ran; the job finished there at ${finished#*T}" \
        "(attempts 1), the container exited 0 after $(($(date +%s) - t0)) s (grace period $grace s); the 8 other jobs succeeded" \
        >"$work/warm-stop.txt"
    dc up -d --no-build --scale worker-ocr=3
    probe workers ocr 3 240 >&2
}

step_redis_restart() {
    dc stop worker-ocr
    # shellcheck disable=SC2046
    queued=$(probe submit-ocr "$work/page.b64" 5)
    [ "$(probe queued ocr)" -eq 5 ] || die "expected 5 jobs waiting in the ocr queue"
    # A new Redis container on the same volume: only the append-only file carries the jobs over.
    dc rm -s -f redis
    dc up -d --no-build --no-deps redis
    wait_healthy redis 60
    probe ready 60
    depth=$(probe queued ocr)
    # shellcheck disable=SC2086
    probe status $queued >"$work/after-restart.json"
    [ "$depth" -eq 5 ] && [ "$(grep -c '"status": "queued"' "$work/after-restart.json")" -eq 5 ] ||
        die "after the restart: queue depth $depth; $(cat "$work/after-restart.json")"
    dc start worker-ocr
    # shellcheck disable=SC2086
    probe wait 300 $queued >&2
    probe wait 300 "$(probe submit-llm)" >&2 # the LLM worker reconnected too
}

step_down() {
    dc down -v
    left=$(podman ps -aq --filter "label=com.docker.compose.project=$project")
    volumes=$(podman volume ls --format '{{.Name}}' | grep "^${project}_" || true)
    networks=$(podman network ls --format '{{.Name}}' | grep "^${project}_" || true)
    [ -z "$left$volumes$networks" ] || die "left behind: $left $volumes $networks"
}

# Pages to read: one line (what the jobs check), and 180 short words in 45 rows of 4 columns
# (1.5 s of work on one core, more under load: the job a worker is stopped in the middle of).
render_pages() {
    for page in page long; do
        podman run --rm -i "$prefix/worker-ocr:$tag" python - "$page" >"$work/$page.b64" <<'EOF'
import base64, io, sys
from PIL import Image, ImageDraw, ImageFont

if sys.argv[1] == "page":
    font, size, cells = ImageFont.load_default(size=48), (780, 130), [((30, 30), "Invoice 2026 total 42.50")]
else:
    font, size = ImageFont.load_default(size=20), (980, 985)
    cells = [((20 + 235 * c, 20 + 21 * r), f"w{r}x{c} {r * 7 + c}") for r in range(45) for c in range(4)]
image = Image.new("RGB", size, "white")
draw = ImageDraw.Draw(image)
for xy, text in cells:
    draw.text(xy, text, fill="black", font=font)
out = io.BytesIO()
image.save(out, format="PNG")
print(base64.b64encode(out.getvalue()).decode())
EOF
    done
}

# --- report and cleanup --------------------------------------------------------------------------
print_report() {
    {
        echo "## compose check: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(podman --version), $(docker-compose version --short 2>/dev/null || echo docker-compose)"
        echo
        echo "| image | build (s) | steps from cache | size (MB) | above the base (MB) |"
        echo "| --- | ---: | ---: | ---: | ---: |"
        base_mb=$(mb "$base")
        built=$(awk -F'|' '$1 == "base" {print $2}' "$work/builds.txt")
        echo "| base (debootstrap bookworm + python3.11) | ${built:-kept from an earlier run} | | $base_mb | |"
        for name in api redis $(echo "$worker_images" | awk 'NF {print $1}'); do
            size=$(mb "$prefix/$name:$tag")
            awk -F'|' -v n="$name" -v s="$size" -v b="$base_mb" '$1 == n {printf "| %s | %s | %s | %s | %s |\n", n, $2, $3, s, s - b}' \
                "$work/builds.txt"
        done
        echo
        echo "| step | result | time (s) |"
        echo "| --- | --- | ---: |"
        awk -F'|' '{printf "| %s | %s | %s |\n", $1, $2, $3}' "$work/steps.txt"
        echo
        [ -s "$work/spread.txt" ] && echo "30 OCR jobs: $(cat "$work/spread.txt")"
        [ -s "$work/warm-stop.txt" ] && echo "warm stop: $(cat "$work/warm-stop.txt")"
        echo "total: $(($(date +%s) - started)) s"
        echo
        echo "compose_check: $(grep -c '|pass|' "$work/steps.txt") passed, $(grep -c '|FAIL|' "$work/steps.txt") failed"
    } >"$report"
    cat "$report"
}

cleanup() {
    status=$?
    if [ -n "$stack_up" ] && [ -z "${KEEP:-}" ]; then
        docker-compose -p "$project" -f "$work/compose.yml" down -v >>"$work/logs/compose.log" 2>&1 || true
    fi
    [ -z "$ticker_pid" ] || kill "$ticker_pid" 2>/dev/null || true
    if [ -n "${KEEP:-}" ] && [ -n "$stack_up" ]; then
        say "KEEP: the stack is up. DOCKER_HOST=$DOCKER_HOST CONTAINERS_CONF=$CONTAINERS_CONF docker-compose -p $project -f $work/compose.yml down -v; kill $service_pid"
    elif [ -n "$service_pid" ]; then
        kill "$service_pid" 2>/dev/null || true
    fi
    [ -s "$work/steps.txt" ] && print_report
    [ "$status" = 0 ] && say "passed" || say "FAILED (exit $status); logs in $work/logs"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setup_machine
build_images
render_pages
prepare_compose
start_health_ticker
stack_up=1
step "up -d: Redis, API, Flower healthy; one worker per domain" step_up
step "Redis needs its password and never evicts; Flower on 127.0.0.1, behind its login" step_locked_down
step "an OCR and an LLM job over HTTP succeed" step_first_jobs
step "up -d --scale worker-ocr=3: 3 containers, 3 nodes in Flower and /v1/domains" step_scale
step "30 OCR jobs succeed, spread over >= 2 containers" step_thirty_jobs
step "stop of a busy OCR container: its job finishes there, nothing lost" step_warm_stop
step "Redis recreated on its volume: queued jobs survive and run" step_redis_restart
step "down -v removes containers, volumes, network" step_down
stack_up=""
