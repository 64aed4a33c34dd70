"""Read the deployment files as data: Dockerfiles, the compose file, pyproject.toml, pins."""

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.domains.yml"
DOCKERFILES = ("Dockerfile.api", "Dockerfile.gpu")
# The image each pin file is for, and the extras that image installs.
PIN_ROLES = {"api": ("flower",), "ocr": ("ocr",), "ocr-cpu": ("ocr-cpu",), "llm": ("llm",), "llm-cpu": ("llm-cpu",)}
# Linux x86_64, Python 3.11: the images' platform, for evaluating requirement markers.
IMAGE_PLATFORM = {
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "python_version": "3.11",
    "python_full_version": "3.11.11",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
}


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper-cased: FROM, RUN, COPY, ...
    args: str  # continuation lines joined; for RUN, the shell command without its flags
    flags: tuple[str, ...] = ()  # RUN's leading --mount=... / --network=... flags


def dockerfile(name: str) -> list[Instruction]:
    """A Dockerfile's instructions, comments dropped and continued lines joined."""
    instructions, pending = [], ""
    for line in (ROOT / name).read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _, args = (pending + line).strip().partition(" ")
        flags: list[str] = []
        while keyword.upper() == "RUN" and re.match(r"--[a-z]+=\S+\s", args.strip() + " "):
            flag, _, args = args.strip().partition(" ")
            flags.append(flag)
        instructions.append(Instruction(keyword.upper(), args.strip(), tuple(flags)))
        pending = ""
    return instructions


def mounts(instruction: Instruction) -> list[dict[str, str]]:
    """A RUN's --mount flags as dicts: {"type": "secret", "id": "ca_bundle"}, ..."""
    found = []
    for flag in instruction.flags:
        if flag.startswith("--mount="):
            found.append(dict(part.partition("=")[::2] for part in flag.removeprefix("--mount=").split(",")))
    return found


def final_stage(name: str) -> list[Instruction]:
    """The instructions of the last stage (the image that ships)."""
    instructions = dockerfile(name)
    start = max(i for i, ins in enumerate(instructions) if ins.keyword == "FROM")
    return instructions[start + 1 :]


def copy_sources(instruction: Instruction) -> list[str]:
    """Build-context paths a COPY reads (none for COPY --from=<stage>)."""
    parts = instruction.args.split()
    if any(p.startswith("--from") for p in parts):
        return []
    paths = [p for p in parts if not p.startswith("--")]
    return paths[:-1]


@cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def services() -> dict[str, dict]:
    return compose()["services"]


def built_from(service: dict) -> str | None:
    build = service.get("build")
    return build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else None


def worker_services() -> dict[str, dict]:
    return {name: s for name, s in services().items() if built_from(s) == "Dockerfile.gpu"}


def light_worker_services() -> dict[str, dict]:
    """Workers that need no model extra (the hooks worker): the API image running ``python -m workers``."""
    return {
        name: s
        for name, s in services().items()
        if built_from(s) == "Dockerfile.api" and s.get("command") == ["python", "-m", "workers"]
    }


def api_services() -> dict[str, dict]:
    """Services running the API itself (the API image with its own command, not Flower)."""
    return {name: s for name, s in services().items() if built_from(s) == "Dockerfile.api" and "command" not in s}


@cache
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def extras() -> dict[str, list[str]]:
    return pyproject()["project"]["optional-dependencies"]


def pins(role: str) -> dict[str, str]:
    """constraints/<role>.txt as normalized name -> version."""
    found = {}
    for line in (ROOT / "constraints" / f"{role}.txt").read_text().splitlines():
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if match:
            found[normalize(match[1])] = match[2]
    return found


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def env_example() -> dict[str, str]:
    """Variables .env.example lists (commented or not) -> the value shown."""
    found = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            found[match[1]] = match[2].strip()
    return found
