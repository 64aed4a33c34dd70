"""docker-compose.domains.yml: valid, scalable, each worker on its own domain, safe defaults."""

import re
import shutil
import subprocess

import pytest

from common.config import CoreSettings
from tests.deploy.repo import (
    COMPOSE,
    ROOT,
    api_services,
    compose,
    env_example,
    light_worker_services,
    services,
    worker_services,
)

INSTALL_HINT = (
    "docker-compose is missing: run scripts/install-compose.sh (Debian's docker-compose 1.29, no engine needed)"
)
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}")


def _compose_config(env_file) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    assert binary, INSTALL_HINT
    return subprocess.run(
        [binary, "--env-file", str(env_file), "-f", str(COMPOSE), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


# Values with no safe default: compose refuses to start until .env sets them.
REQUIRED = {"REDIS_PASSWORD"}


def _filled_env_example(tmp_path):
    """.env.example with the required values set, as a user's .env would have them."""
    text = (ROOT / ".env.example").read_text()
    for name in REQUIRED:
        text = re.sub(rf"^{name}=.*$", f"{name}=0123456789abcdef", text, flags=re.M)
    env_file = tmp_path / ".env"
    env_file.write_text(text)
    return env_file


def test_docker_compose_accepts_env_example_once_the_required_values_are_set(tmp_path):
    done = _compose_config(_filled_env_example(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr, done.stderr  # e.g. a variable with no default


@pytest.mark.parametrize("settings", ["no .env", ".env.example as shipped"])
def test_docker_compose_refuses_to_start_without_a_redis_password(settings, tmp_path):
    env_file = ROOT / ".env.example"
    if settings == "no .env":
        env_file = tmp_path / "empty.env"
        env_file.touch()
    done = _compose_config(env_file)
    assert done.returncode != 0
    assert "set REDIS_PASSWORD in .env" in done.stderr, done.stderr


def test_every_compose_variable_has_a_default_or_is_required_and_is_documented():
    text = COMPOSE.read_text()
    variables = VARIABLE.findall(text)
    assert variables
    required = {name for name, rest in variables if rest.startswith(":?")}
    assert required == REQUIRED, f"only these may lack a default: {sorted(REQUIRED)}"
    assert all(rest == f":?set {name} in .env" for name, rest in variables if name in required)
    no_default = sorted({name for name, rest in variables if not rest.startswith(":-")} - required)
    assert not no_default, f"give these a default (${{VAR:-default}}): {no_default}"
    undocumented = sorted({name for name, _ in variables} - set(env_example()))
    assert not undocumented, f"document in .env.example: {undocumented}"


def test_scalable_workers_bind_no_host_port_and_have_no_fixed_name():
    workers = worker_services()
    assert set(workers) >= {"worker-ocr", "worker-llm"}
    for name, service in workers.items():
        assert "container_name" not in service, f"{name}: container_name blocks --scale"
        assert "ports" not in service, f"{name}: a host port blocks a second replica"
        assert "WORKER_NAME" not in service["environment"], f"{name}: replicas must name themselves"


def test_each_worker_reserves_a_gpu_and_keeps_model_caches_on_a_volume():
    named_volumes = set(compose()["volumes"])
    for name, service in worker_services().items():
        devices = service["deploy"]["resources"]["reservations"]["devices"]
        assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] and d.get("count") for d in devices), name
        mounts = [v.split(":") for v in service["volumes"]]
        assert any(src in named_volumes and dst == "/var/cache/domainq" for src, dst, *_ in mounts), name


def _seconds(duration: str) -> int:
    units = {"h": 3600, "m": 60, "s": 1}
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert parts and duration, f"unreadable duration {duration!r}"
    return sum(int(n) * units[u] for n, u in zip(parts.groups(), "hms", strict=True) if n)


def test_a_stopping_worker_gets_as_long_as_the_longest_job():
    longest = CoreSettings.model_fields["task_hard_time_limit_s"].default
    for name, service in worker_services().items():
        grace = service["stop_grace_period"]
        default = VARIABLE.fullmatch(grace)[2].removeprefix(":-") if VARIABLE.fullmatch(grace) else grace
        assert _seconds(default) >= longest, f"{name}: stop_grace_period {default} < TASK_HARD_TIME_LIMIT_S {longest}"


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_redis_persists_to_a_named_volume_is_not_published_and_reports_health():
    redis = services()["redis"]
    assert redis["image"].startswith("redis:7")
    assert _option(redis["command"], "--appendonly") == "yes"
    assert any(v.split(":")[0] in compose()["volumes"] and v.split(":")[1] == "/data" for v in redis["volumes"])
    assert "ports" not in redis
    assert "redis-cli ping" in " ".join(redis["healthcheck"]["test"])


def test_redis_requires_a_password_and_refuses_writes_when_full_instead_of_evicting():
    command = services()["redis"]["command"]
    assert _option(command, "--requirepass") == "${REDIS_PASSWORD:?set REDIS_PASSWORD in .env}"
    assert _option(command, "--maxmemory") == "${REDIS_MAXMEMORY:-1gb}"
    assert _option(command, "--maxmemory-policy") == "noeviction"
    assert services()["redis"]["environment"]["REDISCLI_AUTH"].startswith("${REDIS_PASSWORD:?")  # healthcheck


def test_every_redis_url_carries_the_password():
    apps = {**api_services(), **worker_services(), **light_worker_services()}
    urls = {name: s["environment"]["REDIS_URL"] for name, s in apps.items()}
    urls["flower"] = services()["flower"]["environment"]["CELERY_BROKER_URL"]
    for name, url in urls.items():
        assert url == "redis://:${REDIS_PASSWORD:?set REDIS_PASSWORD in .env}@redis:6379/0", name


def test_api_services_wait_for_redis_and_serve_a_fixed_domain_each():
    apis = api_services()
    assert {name: s["environment"]["DOMAIN"] for name, s in apis.items()} == {
        "api": "all",
        "app-llm": "llm",
        "app-ocr": "ocr",
    }
    assert apis["api"]["ports"] == ["${API_PORT:-8000}:8000"]
    assert apis["app-llm"]["ports"] == ["${APP_LLM_PORT:-35051}:8000"]
    assert apis["app-ocr"]["ports"] == ["${APP_OCR_PORT:-35052}:8000"]
    for name in ("app-llm", "app-ocr"):
        assert apis[name]["profiles"] == ["per-domain-api"]
    for name, service in {**apis, **worker_services(), **light_worker_services()}.items():
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name


def test_flower_reuses_the_api_image_and_requires_basic_auth():
    flower, api = services()["flower"], services()["api"]
    assert flower["image"] == api["image"]
    assert flower["environment"]["FLOWER_BASIC_AUTH"] == "${FLOWER_BASIC_AUTH:-}"
    command = " ".join(flower["command"])
    assert "celery flower" in command and "FLOWER_BASIC_AUTH" in command  # refuses to start without it
    assert flower["ports"] == ["127.0.0.1:${FLOWER_PORT:-5555}:5555"]  # a TLS proxy in front to expose it


def test_the_hooks_worker_runs_from_the_api_image_scalable_and_without_a_gpu():
    hooks = light_worker_services()
    assert list(hooks) == ["worker-hooks"]
    service = hooks["worker-hooks"]
    assert service["image"] == services()["api"]["image"]
    assert service["environment"]["DOMAIN"] == "hooks"
    assert "deploy" not in service  # no GPU
    assert service["volumes"] == ["blobs:/data/blobs"]  # no model cache: only the blobs every worker shares
    assert "ports" not in service and "container_name" not in service
    assert "WORKER_NAME" not in service["environment"]


def test_the_apis_and_every_worker_share_the_blobs_volume_where_blob_store_url_points():
    assert "blobs" in compose()["volumes"]
    url = compose()["x-app-env"]["BLOB_STORE_URL"]
    assert url == "${BLOB_STORE_URL:-file:///data/blobs}"
    path = VARIABLE.fullmatch(url)[2].removeprefix(":-file://")
    for name, service in {**api_services(), **worker_services(), **light_worker_services()}.items():
        assert service["environment"]["BLOB_STORE_URL"] == url, name
        assert f"blobs:{path}" in service["volumes"], f"{name}: mount the blobs volume at {path}"
