"""deploy/k8s as data: built with ``kubectl kustomize`` (no cluster), its env files, its pods."""

import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from tests.deploy.repo import ROOT

K8S = ROOT / "deploy" / "k8s"
INSTALL_HINT = "kubectl is missing: run scripts/install-kubectl.sh (Debian's kubernetes-client; no cluster needed)"
# What a user puts into secrets.env (git ignores it): every key secrets.env.example lists.
TEST_SECRETS = {
    "REDIS_PASSWORD": "0123456789abcdef",
    "ADMIN_API_KEY": "",
    "FLOWER_BASIC_AUTH": "admin:secret",
    "AWS_ACCESS_KEY_ID": "",
    "AWS_SECRET_ACCESS_KEY": "",
    "AWS_SESSION_TOKEN": "",
}
_ENV_LINE = re.compile(r"(#?)\s*([A-Z][A-Z0-9_]*)=(.*)$")


def kustomize(directory: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("kubectl")
    assert binary, INSTALL_HINT
    return subprocess.run([binary, "kustomize", str(directory)], capture_output=True, text=True, timeout=60)


def copy_without_secrets(target: Path) -> Path:
    """deploy/k8s copied to ``target``, without a secrets.env a developer may have made."""
    shutil.copytree(K8S, target, ignore=shutil.ignore_patterns("secrets.env"))
    return target


def build(target: Path) -> list[dict]:
    """The resources ``kubectl apply -k`` would send, once secrets.env is filled in."""
    copy_without_secrets(target)
    example = env_file(target / "secrets.env.example")
    assert set(example.shown) == set(TEST_SECRETS), "secrets.env.example and TEST_SECRETS list other keys"
    (target / "secrets.env").write_text("".join(f"{k}={v}\n" for k, v in TEST_SECRETS.items()))
    done = kustomize(target)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@dataclass(frozen=True)
class EnvFile:
    values: dict[str, str]  # the lines set: what the ConfigMap carries
    shown: dict[str, str]  # every line, commented or not, with the value it shows


def env_file(path: Path) -> EnvFile:
    values, shown = {}, {}
    for line in path.read_text().splitlines():
        match = _ENV_LINE.match(line)
        if match:
            shown[match[2]] = match[3].strip()
            if not match[1]:
                values[match[2]] = match[3].strip()
    return EnvFile(values, shown)


@cache
def kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def generated_env_files() -> dict[str, Path]:
    """ConfigMap name (before kustomize appends its hash) -> the env file it is made from."""
    return {g["name"]: K8S / g["env"] for g in kustomization()["configMapGenerator"]}


def generator_name(generated: str) -> str:
    """``domainq-core-5d2h7bm9tk`` -> ``domainq-core``."""
    base = generated.rsplit("-", 1)[0]
    return base if base in generated_env_files() else generated


def source_resources() -> list[dict]:
    """The resource files as written (images before kustomize renames them)."""
    docs = []
    for name in kustomization()["resources"]:
        docs += [doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]
    return docs


def find(manifests: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [m for m in manifests if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]


def workloads(manifests: list[dict]) -> dict[str, dict]:
    """Deployments and StatefulSets by name."""
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] in ("Deployment", "StatefulSet")}


def pod(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def image_name(container: dict) -> str:
    """``registry.example.com/domainq/worker-ocr:0.1.0`` -> ``worker-ocr``."""
    return container["image"].rsplit("/", 1)[-1].split(":")[0]


def role(container: dict) -> str | None:
    """``api`` or ``worker`` for the platform's own processes (as tests/deploy/repo.py tells
    compose services apart: by image and command); None for Redis and Flower."""
    image, command = image_name(container), container.get("command")
    if image.startswith("worker-") and not command:
        return "worker"
    if image == "api" and not command and not container.get("args"):
        return "api"
    if image == "api" and command == ["python", "-m", "workers"]:
        return "worker"
    return None


def app_containers(manifests: list[dict]) -> list[tuple[str, dict]]:
    """(workload name, container) for every API and worker container."""
    return [(name, c) for name, w in workloads(manifests).items() for c in pod(w)["containers"] if role(c)]


def explicit_env(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def config_maps(manifests: list[dict], container: dict) -> list[str]:
    """The generated ConfigMaps a container takes its environment from (envFrom)."""
    return [ref["configMapRef"]["name"] for ref in container.get("envFrom", []) if "configMapRef" in ref]


def effective_env(manifests: list[dict], container: dict) -> dict[str, str]:
    """The plain values a container starts with: its ConfigMaps' data, then its own ``value``s."""
    env: dict[str, str] = {}
    for name in config_maps(manifests, container):
        (config,) = find(manifests, "ConfigMap", name)
        env |= config.get("data", {})
    env |= {name: e["value"] for name, e in explicit_env(container).items() if "value" in e}
    return env


def settable_env(manifests: list[dict], container: dict) -> set[str]:
    """Every variable a user can give a container by editing one file: its own env, and each
    line (set or commented) of the env files its ConfigMaps come from."""
    names = set(explicit_env(container))
    for name in config_maps(manifests, container):
        names |= set(env_file(generated_env_files()[generator_name(name)]).shown)
    return names


def domain(container: dict) -> str:
    return explicit_env(container)["DOMAIN"]["value"]
