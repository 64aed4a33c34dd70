"""deploy/k8s: builds with kustomize, valid for Kubernetes, scaled on dq_backlog, safe defaults."""

import importlib
import os
import re
import subprocess

import kubernetes_validate
import pytest
from pydantic_settings import BaseSettings

from api.domains.base.router import router as base_router
from common.config import CoreSettings
from tests.deploy.code_settings import env_names, read_settings, reads
from tests.deploy.manifests import (
    K8S,
    TEST_SECRETS,
    app_containers,
    build,
    copy_without_secrets,
    domain,
    effective_env,
    env_file,
    explicit_env,
    find,
    generated_env_files,
    image_name,
    kustomization,
    kustomize,
    pod,
    role,
    settable_env,
    source_resources,
    workloads,
)
from tests.deploy.repo import ROOT, compose, env_example
from tests.deploy.test_settings import NOT_PASSED
from workers.core.config import WorkerSettings

GPU = "nvidia.com/gpu"
KEDA = "keda.sh/v1alpha1"
# The oldest Kubernetes the manifests are meant for, and the newest kubernetes-validate knows.
VERSIONS = ["1.29", kubernetes_validate.utils.latest_version()]


@pytest.fixture(scope="module")
def manifests(tmp_path_factory) -> list[dict]:
    return build(tmp_path_factory.mktemp("k8s") / "k8s")


def _settings(cls: type[BaseSettings], env: dict[str, str], monkeypatch) -> BaseSettings:
    """``cls`` as a pod with this environment reads it (nothing else from this machine's)."""
    for name in env_names(cls):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return cls(_env_file=None)


def _worker(manifests: list[dict], name: str) -> dict:
    (container,) = pod(workloads(manifests)[name])["containers"]
    return container


def test_kustomize_builds_every_part_of_the_platform_into_its_namespace(manifests):
    kinds = {(m["kind"], m["metadata"]["name"]) for m in manifests}
    deployments = {"api", "worker-ocr", "worker-llm", "worker-hooks", "flower"}
    assert {("Deployment", name) for name in deployments} <= kinds
    assert {("StatefulSet", "redis"), ("Service", "api"), ("Service", "redis"), ("Service", "flower")} <= kinds
    assert {("ScaledObject", "worker-ocr"), ("ScaledObject", "worker-llm")} <= kinds
    assert {m["metadata"].get("namespace") for m in manifests if m["kind"] != "Namespace"} == {"domainq"}


def test_kustomize_refuses_to_build_without_secrets_env(tmp_path):
    done = kustomize(copy_without_secrets(tmp_path / "k8s"))
    assert done.returncode != 0
    assert "secrets.env" in done.stderr


@pytest.mark.parametrize("version", VERSIONS)
def test_every_resource_validates_against_the_kubernetes_schemas(manifests, version):
    checked, errors = 0, []
    for resource in manifests:
        if resource["apiVersion"] == KEDA:
            continue  # a CRD: kubernetes-validate has no schema for it (checked below)
        try:
            kubernetes_validate.validate(resource, version, strict=True)
            checked += 1
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            errors.append(f"{resource['kind']}/{resource['metadata']['name']}: {path}: {exc.message}")
    assert not errors, errors
    assert checked == len([m for m in manifests if m["apiVersion"] != KEDA])


def test_the_schema_check_would_catch_a_misspelt_field(manifests):
    deployment = find(manifests, "Deployment", "worker-ocr")[0]
    spec = pod(deployment) | {"terminationGracePeriodSecond": 1830}
    broken = deployment | {"spec": deployment["spec"] | {"template": {**deployment["spec"]["template"], "spec": spec}}}
    with pytest.raises(kubernetes_validate.ValidationError, match="terminationGracePeriodSecond"):
        kubernetes_validate.validate(broken, VERSIONS[0], strict=True)


def test_each_gpu_worker_is_scaled_by_keda_on_its_own_domains_backlog(manifests):
    scaled = find(manifests, "ScaledObject")
    deployments = {m["metadata"]["name"]: m for m in find(manifests, "Deployment")}
    assert {s["spec"]["scaleTargetRef"]["name"] for s in scaled} == {"worker-ocr", "worker-llm"}
    assert '"dq_backlog"' in (ROOT / "api/core/scrape.py").read_text(), "the API no longer serves dq_backlog"
    for scaler in scaled:
        spec, target = scaler["spec"], scaler["spec"]["scaleTargetRef"]
        assert scaler["apiVersion"] == KEDA
        assert target.get("kind", "Deployment") == "Deployment" and target["name"] in deployments
        want = domain(_worker(manifests, target["name"]))
        assert 0 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] and spec["maxReplicaCount"] >= 1
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "prometheus"
        meta = trigger["metadata"]
        assert re.match(r"https?://\S+$", meta["serverAddress"])
        # max(): every API pod serves the same Redis-wide gauge; sum() would count it per pod.
        assert meta["query"] == f'max(dq_backlog{{domain="{want}"}})'
        # No answer is an error (KEDA keeps the replicas), not a 0 that scales a busy fleet in.
        assert meta["ignoreNullValues"] == "false"
        assert float(meta["activationThreshold"]) == 0


def _slots(worker_domain: str, env: dict[str, str], monkeypatch) -> int:
    """The jobs one worker of the domain runs at once in its image, with its pod's environment."""
    module = importlib.import_module(f"workers.domains.{worker_domain}")
    if not callable(module.CONCURRENCY):
        return module.CONCURRENCY
    from workers.domains.llm import engines
    from workers.domains.llm.config import LlmSettings

    # The llm image installs vLLM (the llm extra): LLM_ENGINE=auto is vllm there, whatever this machine has.
    monkeypatch.setattr(engines, "vllm_installed", lambda: True)
    return engines.jobs_held(_settings(LlmSettings, env, monkeypatch))


def test_each_scaled_object_wants_one_replica_per_worker_slots_of_backlog(manifests, monkeypatch):
    thresholds = {}
    for scaler in find(manifests, "ScaledObject"):
        container = _worker(manifests, scaler["spec"]["scaleTargetRef"]["name"])
        slots = _slots(domain(container), effective_env(manifests, container), monkeypatch)
        thresholds[domain(container)] = (float(scaler["spec"]["triggers"][0]["metadata"]["threshold"]), slots)
    assert thresholds == {"ocr": (1, 1), "llm": (65, 65)}


def test_every_job_worker_gets_more_grace_than_its_hard_time_limit(manifests, monkeypatch):
    checked = []
    for name, container in app_containers(manifests):
        if role(container) != "worker":
            continue
        worker_domain = domain(container)
        if not getattr(importlib.import_module(f"workers.domains.{worker_domain}"), "JOBS", True):
            continue  # the hooks worker runs deliveries (WEBHOOK_TIMEOUT_S), not jobs
        core = _settings(CoreSettings, effective_env(manifests, container), monkeypatch)
        hard = core.time_limits(worker_domain)[1]
        grace = pod(workloads(manifests)[name])["terminationGracePeriodSeconds"]
        assert grace > hard, f"{name}: terminationGracePeriodSeconds {grace} <= TASK_HARD_TIME_LIMIT_S {hard}"
        checked.append(worker_domain)
    assert sorted(checked) == ["llm", "ocr"]


def test_the_grace_check_reads_the_hard_limit_from_the_config_map(manifests, monkeypatch):
    container = _worker(manifests, "worker-llm")
    assert effective_env(manifests, container)["TASK_HARD_TIME_LIMIT_S"] == "1800"
    longer = effective_env(manifests, container) | {"TASK_HARD_TIME_LIMIT_S_BY_DOMAIN": '{"llm": 3600}'}
    assert _settings(CoreSettings, longer, monkeypatch).time_limits("llm")[1] == 3600


def _gpus(container: dict) -> tuple[object, object]:
    resources = container.get("resources", {})
    return resources.get("requests", {}).get(GPU), resources.get("limits", {}).get(GPU)


def test_gpus_are_requested_by_the_ocr_and_llm_workers_only(manifests):
    with_gpu = {}
    for name, workload in workloads(manifests).items():
        for container in pod(workload)["containers"]:
            if _gpus(container) != (None, None):
                with_gpu[name] = _gpus(container)
            if image_name(container) == "api":
                assert _gpus(container) == (None, None), f"{name} runs the API image: no GPU"
    assert with_gpu == {"worker-ocr": (1, 1), "worker-llm": (1, 1)}


def test_every_setting_reaches_the_pods_that_read_it(manifests):
    missing, containers = [], app_containers(manifests)
    assert {role(c) for _, c in containers} == {"api", "worker"}
    for setting in read_settings():
        if setting.name in NOT_PASSED:
            continue
        for name, container in containers:
            read = reads(setting.module, role=role(container), domain=domain(container))
            if read and setting.name not in settable_env(manifests, container):
                missing.append(f"{name}: {setting.name} (read in {setting.module})")
    assert not missing, missing


def test_each_worker_serves_its_images_domain_and_names_itself(manifests):
    for name, container in app_containers(manifests):
        assert "DOMAIN" in explicit_env(container), f"{name}: set DOMAIN"
        if image_name(container).startswith("worker-"):
            assert domain(container) == image_name(container).removeprefix("worker-") == name.removeprefix("worker-")
        # Replicas must not share a node name; the domain's pool keeps one model copy per GPU process.
        assert not {"WORKER_NAME", "WORKER_POOL"} & settable_env(manifests, container), name
    assert domain(_worker(manifests, "worker-hooks")) == "hooks"
    assert domain(pod(workloads(manifests)["api"])["containers"][0]) == "all"


def test_env_files_list_only_documented_settings_with_their_documented_defaults():
    documented, wrong = env_example(), []
    for path in generated_env_files().values():
        parsed = env_file(path)
        assert parsed.shown, f"{path.name} lists nothing"
        for name, shown in parsed.shown.items():
            if name not in documented:
                wrong.append(f"{path.name}: {name} is not a setting .env.example documents")
            elif name not in parsed.values and shown != documented[name]:
                wrong.append(f"{path.name}: {name} shows {shown!r}, .env.example {documented[name]!r}")
    assert not wrong, wrong


def test_every_worker_declares_the_metrics_port_it_serves(manifests, monkeypatch):
    for name, container in app_containers(manifests):
        if role(container) == "worker":
            port = _settings(WorkerSettings, effective_env(manifests, container), monkeypatch).worker_metrics_port
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            assert ports == {"metrics": port}, name
            annotations = workloads(manifests)[name]["spec"]["template"]["metadata"]["annotations"]
            assert annotations["prometheus.io/port"] == str(port)


def _secret_ref(entry: dict) -> tuple[str, str]:
    ref = entry.get("valueFrom", {}).get("secretKeyRef", {})
    return ref.get("name", "").rsplit("-", 1)[0], ref.get("key", "")


def test_every_redis_url_carries_the_password_from_the_secret(manifests):
    urls = 0
    for name, workload in workloads(manifests).items():
        for container in pod(workload)["containers"]:
            env = container.get("env", [])
            names = [e["name"] for e in env]
            for variable in ("REDIS_URL", "CELERY_BROKER_URL"):
                if variable not in names:
                    continue
                urls += 1
                value = env[names.index(variable)]["value"]
                assert value == "redis://:$(REDIS_PASSWORD)@redis:6379/0", f"{name}: {variable}"
                # Kubernetes expands $(VAR) only from variables defined earlier in the list.
                assert "REDIS_PASSWORD" in names[: names.index(variable)], name
                assert _secret_ref(env[names.index("REDIS_PASSWORD")]) == ("domainq-secrets", "REDIS_PASSWORD")
            if role(container):
                assert "REDIS_URL" in names, f"{name} never reaches Redis"
    assert urls == 5  # the API, three workers, Flower


def _redis(manifests: list[dict]) -> dict:
    (container,) = pod(find(manifests, "StatefulSet", "redis")[0])["containers"]
    return container


def _run_script(container: dict, stub: str, env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    """A container's ``sh -c`` script, with ``stub`` (the program it execs) printing its arguments."""
    assert container["command"] == ["sh", "-c"]
    (script,) = container["args"]
    (tmp_path / stub).write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    (tmp_path / stub).chmod(0o755)
    path = f"{tmp_path}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(["sh", "-c", script], env={"PATH": path, **env}, capture_output=True, text=True, timeout=10)


def test_redis_starts_with_its_password_appendonly_and_noeviction(manifests, tmp_path):
    env = {"REDIS_PASSWORD": TEST_SECRETS["REDIS_PASSWORD"], "REDIS_MAXMEMORY": "1gb"}
    done = _run_script(_redis(manifests), "redis-server", env, tmp_path)
    assert done.returncode == 0, done.stderr
    args = done.stdout.splitlines()
    options = dict(zip(args[::2], args[1::2], strict=True))
    assert options == {
        "--appendonly": "yes",
        "--requirepass": TEST_SECRETS["REDIS_PASSWORD"],
        "--maxmemory": "1gb",
        "--maxmemory-policy": "noeviction",
    }


@pytest.mark.parametrize(
    ("workload", "stub", "variable"),
    [("redis", "redis-server", "REDIS_PASSWORD"), ("flower", "celery", "FLOWER_BASIC_AUTH")],
)
def test_redis_and_flower_refuse_to_start_without_their_secret(manifests, tmp_path, workload, stub, variable):
    (container,) = pod(workloads(manifests)[workload])["containers"]
    done = _run_script(container, stub, {variable: "", "REDIS_MAXMEMORY": "1gb"}, tmp_path)
    assert done.returncode != 0 and done.stdout == ""
    assert f"set {variable}" in done.stderr and "secrets.env" in done.stderr
    assert _secret_ref(explicit_env(container)[variable]) == ("domainq-secrets", variable)


def _bytes(quantity: str) -> int:
    """A Kubernetes quantity (1536Mi) or a Redis size (1gb) in bytes."""
    number, unit = re.fullmatch(r"(\d+)([A-Za-z]*)", quantity).groups()
    units = {"": 1, "k": 1000, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    units |= {"kb": 2**10, "mb": 2**20, "gb": 2**30}  # Redis: 1gb is 1024^3 bytes
    return int(number) * units[unit]


def test_redis_keeps_its_data_on_a_volume_with_room_above_maxmemory(manifests):
    redis = find(manifests, "StatefulSet", "redis")[0]
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    mounts = {m["mountPath"]: m["name"] for m in _redis(manifests)["volumeMounts"]}
    assert mounts["/data"] == claim["metadata"]["name"]
    (config,) = [m for m in find(manifests, "ConfigMap") if m["metadata"]["name"].startswith("domainq-redis-")]
    maxmemory = _bytes(config["data"]["REDIS_MAXMEMORY"])
    # The fork that rewrites the append-only file copies pages on write, plus client buffers.
    assert _bytes(_redis(manifests)["resources"]["limits"]["memory"]) >= 1.5 * maxmemory


def test_nothing_is_published_outside_the_cluster(manifests):
    assert not find(manifests, "Ingress")
    assert {s.get("spec", {}).get("type", "ClusterIP") for s in find(manifests, "Service")} == {"ClusterIP"}
    for workload in workloads(manifests).values():
        assert not any("hostPort" in p for c in pod(workload)["containers"] for p in c.get("ports", []))


def test_the_api_is_ready_on_readyz_and_alive_on_healthz(manifests):
    (container,) = pod(workloads(manifests)["api"])["containers"]
    served = {route.path for route in base_router.routes}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz" in served
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz" in served
    assert {p["name"] for p in container["ports"]} >= {container["readinessProbe"]["httpGet"]["port"]}


def test_images_are_the_ones_compose_builds_renamed_through_kustomize_images(manifests):
    renamed = {i["name"]: f"{i.get('newName', i['name'])}:{i['newTag']}" for i in kustomization()["images"]}
    built = {
        re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", s["image"]).rsplit(":", 1)[0]
        for s in compose()["services"].values()
        if "build" in s
    }
    written = {c["image"] for r in source_resources() if "template" in r.get("spec", {}) for c in pod(r)["containers"]}
    assert built == {"domainq/api", "domainq/worker-ocr", "domainq/worker-llm"}
    assert built <= written <= set(renamed), "name each image as compose builds it, and list it under images:"
    shipped = {c["image"] for w in workloads(manifests).values() for c in pod(w)["containers"]}
    assert shipped == {renamed[name] for name in written}


def test_secrets_env_is_never_committed():
    done = subprocess.run(
        ["git", "check-ignore", "-q", str(K8S / "secrets.env")], cwd=ROOT, capture_output=True, timeout=30
    )
    assert done.returncode == 0, "git must ignore deploy/k8s/secrets.env"
