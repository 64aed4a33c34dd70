# Shared by scripts/compose_check.sh and scripts/gpu_image_check.sh (sourced, not run): podman on
# a machine with no Docker engine and no container registry, and the images both scripts build.
# The caller sets: me (its name, for messages), work (its folder, with logs/), prefix (the image
# names' prefix), tag, base (the base image's name), uv_version, ca_bundle.
# shellcheck shell=sh

say() { printf '%s %s: %s\n' "$(date +%H:%M:%S)" "$me" "$*" >&2; }
die() {
    say "FAILED: $*"
    exit 1
}

# setup_podman [COMMAND_OR_PATH:DEBIAN_PACKAGE...]: podman, runc and debootstrap (and what the
# caller adds) from apt when missing, and podman's configuration for this run (CONTAINERS_CONF).
setup_podman() {
    [ "$(id -u)" = 0 ] || die "run as root (apt-get, rootful podman)"
    missing=""
    for pair in podman:podman runc:runc debootstrap:debootstrap "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || [ -e "${pair%%:*}" ] || missing="$missing ${pair#*:}"
    done
    if [ -n "$missing" ]; then
        say "installing (apt):$missing"
        apt-get update -qq >/dev/null
        # shellcheck disable=SC2086 # a list of package names
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >"$work/logs/apt.log" 2>&1 ||
            die "apt-get install$missing failed: $work/logs/apt.log"
    fi
    # Our own containers.conf (the system's stays as it is): runc, as crun cannot set rlimits
    # without CAP_SYS_RESOURCE; ulimits within this process's hard limits, for the same reason.
    nofile=$(awk '/^Max open files/ {print ($5 == "unlimited" || $5 > 1048576) ? 1048576 : $5}' /proc/self/limits)
    nproc=$(awk '/^Max processes/ {print ($4 == "unlimited" || $4 > 32768) ? 32768 : $4}' /proc/self/limits)
    cat >"$work/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
EOF
    CONTAINERS_CONF=$work/containers.conf
    export CONTAINERS_CONF
}

# --- images ---------------------------------------------------------------------------------------
debian_mirror() {
    if [ -n "${DEBIAN_MIRROR:-}" ]; then
        echo "$DEBIAN_MIRROR"
        return
    fi
    # deb822 sources: the paragraph for "bookworm" itself (not -security, -updates), then one-line sources.
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && awk '/^[ \t]*$/ {uri = ""; ok = 0} /^URIs:/ {uri = $2}
            /^Suites:/ {for (i = 2; i <= NF; i++) if ($i == "bookworm") ok = 1} uri && ok {print uri; exit}' "$f"
    done | head -n 1 | grep . && return
    awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        head -n 1 | grep . || echo "http://deb.debian.org/debian"
}

make_base() {
    if [ -z "${REBUILD_BASE:-}" ] && podman image exists "$base"; then
        say "base image $base: cached"
        return
    fi
    mirror=$(debian_mirror)
    say "base image: debootstrap bookworm + python3.11 from $mirror"
    t0=$(date +%s)
    rootfs=$work/rootfs
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include=python3.11,ca-certificates bookworm "$rootfs" "$mirror" \
        >"$work/logs/debootstrap.log" 2>&1 || die "debootstrap failed: $work/logs/debootstrap.log"
    # What Debian's own images leave out: package lists and caches, manuals, translations.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
        "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* "$rootfs"/etc/hostname
    tar -C "$rootfs" -c . | podman import -q \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' - "$base" >/dev/null
    rm -rf "$rootfs"
    echo "base|$(($(date +%s) - t0))|" >>"$work/builds.txt"
}

# uv from its PyPI wheel, laid out like the uv image (/uv and /uvx at the root).
make_uv_image() {
    uv_image=$prefix/uv:$uv_version
    podman image exists "$uv_image" && return
    say "uv image: uv $uv_version from PyPI"
    rm -rf "$work/uv" && mkdir -p "$work/uv"
    python3 -m pip download -q --no-deps -d "$work/uv" "uv==$uv_version" >"$work/logs/uv.log" 2>&1 ||
        die "pip download uv failed: $work/logs/uv.log"
    (cd "$work/uv" && python3 -m zipfile -e uv-*.whl wheel && cp wheel/uv-*.data/scripts/uv wheel/uv-*.data/scripts/uvx . &&
        chmod 755 uv uvx && printf 'FROM scratch\nCOPY uv uvx /\n' >Containerfile)
    podman build -q -t "$uv_image" "$work/uv" >/dev/null
}

# A Redis 7 image from Debian's package: the compose file's redis:7 cannot be pulled here.
make_redis_image() {
    mkdir -p "$work/redis"
    cat >"$work/redis/Containerfile" <<EOF
FROM $base
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \\
    && rm -rf /var/lib/apt/lists/* && mkdir -p /data && chown redis:redis /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server"]
EOF
    build redis "$work/redis/Containerfile" "$work/redis"
}

# build NAME DOCKERFILE CONTEXT [BUILD_ARG=VALUE...]: tagged as compose names it, timed, sized.
build() {
    name=$1 dockerfile=$2 context=$3
    shift 3
    args=""
    for arg in "$@"; do args="$args --build-arg $arg"; done
    say "building $prefix/$name:$tag ($*)"
    t0=$(date +%s)
    # shellcheck disable=SC2086 # build args, one word each
    podman build --format docker --secret "id=ca_bundle,src=$ca_bundle" -f "$dockerfile" -t "$prefix/$name:$tag" \
        $args "$context" >"$work/logs/build-$name.log" 2>&1 || {
        tail -n 30 "$work/logs/build-$name.log" >&2
        die "building $name failed: $work/logs/build-$name.log"
    }
    steps=$(grep 'STEP [0-9]*/[0-9]*: ' "$work/logs/build-$name.log" | grep -vc 'STEP [0-9]*/[0-9]*: FROM ' || true)
    cached=$(grep -c -- '--> Using cache' "$work/logs/build-$name.log" || true)
    echo "$name|$(($(date +%s) - t0))|$cached of $steps" >>"$work/builds.txt"
}

# build_platform IMAGES: the API image, then one worker image per line of IMAGES ("NAME
# BUILD_ARG=VALUE..."), each on the base with the image's own Python.
build_platform() {
    build api Dockerfile.api . "PYTHON_IMAGE=$base" "UV_IMAGE=$uv_image" PYTHON_SOURCE=system
    while read -r name build_args; do
        [ -n "$name" ] || continue
        # shellcheck disable=SC2086 # build args, one word each
        build "$name" Dockerfile.gpu . "BASE_IMAGE=$base" "UV_IMAGE=$uv_image" PYTHON_SOURCE=system $build_args
    done <<EOF
$1
EOF
}

# An image's size in MB (decimal, as podman counts).
mb() { podman image inspect --format '{{.Size}}' "$1" 2>/dev/null | awk '{printf "%.0f", $1 / 1e6}'; }
