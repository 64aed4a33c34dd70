"""The GPU check's checks: what the worker's probe (``devtools.gpu_probe``) saw in its own
process, what ``nvidia-smi`` says each process holds, and what the API process has mapped.

Without CUDA, a check that needs it says ``skipped: no CUDA``: it did not pass.
"""

import json
import secrets
import subprocess
import time
from pathlib import Path
from typing import Any

from scripts.benchmarks.gpu_report import FAIL, NO_CUDA, PASS, Report

GIB = 2**30
# torch's allocated memory at rest over the models' weights: one copy stays near 1.0 (plus
# buffers), a second copy would make it 2.0.
ONE_COPY_RATIO = 1.5


def read_probe(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def wait_loaded(path: Path, timeout: float) -> dict[str, Any]:
    """The probe's first reading once the worker's models are loaded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = read_probe(path)
        if "loaded" in data:
            return data
        time.sleep(0.2)
    raise TimeoutError(f"the worker's models were not loaded within {timeout:.0f} s")


def fresh_reading(path: Path, timeout: float) -> dict[str, Any]:
    """Ask the probe for a reading now (with its count of model objects) and wait for it."""
    nonce = secrets.token_hex(8)
    path.with_name(path.name + ".request").write_text(nonce)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reading = read_probe(path).get("reading", {})
        if reading.get("nonce") == nonce:
            return dict(reading)
        time.sleep(0.1)
    raise TimeoutError(f"the worker's probe did not answer within {timeout:.0f} s")


def gpu_processes() -> dict[int, int] | None:
    """MiB of GPU memory by process id, as ``nvidia-smi`` lists them; None without it."""
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    found = {}
    for line in done.stdout.splitlines():
        pid, _, used = line.partition(",")
        if pid.strip().isdigit() and used.strip().isdigit():
            found[int(pid)] = int(used)
    return found


def mapped_libraries(pid: int, needles: tuple[str, ...] = ("libtorch", "libcuda", "libcudart")) -> list[str]:
    """The libraries among ``needles`` that process ``pid`` has mapped."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ["(unreadable)"]
    return sorted({n for n in needles if n in maps})


def _state(value: dict[str, bool] | None) -> str:
    if not value:
        return "not recorded"
    return f"torch {'imported' if value['torch_imported'] else 'not imported'}, CUDA initialised: {value['cuda_initialized']}"


def evaluate(
    report: Report,
    model: str,
    probe: dict[str, Any],
    reading: dict[str, Any],
    worker_pid: int,
    api_pid: int,
    cuda: bool,
) -> None:
    """Record the checks for one worker from its probe's data and a fresh reading."""
    generator, embedder = reading.get("generator", {}), reading.get("embedder", {})
    where = f"generator {generator.get('devices')} {generator.get('dtypes')}; embedder {embedder.get('devices')} {embedder.get('dtypes')}"
    if cuda:
        on_cuda = all(d.startswith("cuda") for d in generator.get("devices", ["?"]) + embedder.get("devices", ["?"]))
        ok = on_cuda and generator.get("dtypes") == ["bfloat16"]
        report.check("model on CUDA in bfloat16", model, PASS if ok else FAIL, where)
    else:
        report.check("model on CUDA in bfloat16", model, NO_CUDA, where)

    copies = reading.get("copies", {})
    gen_class, emb_class = generator.get("class"), embedder.get("class")
    ok = copies.get(gen_class) == 1 and copies.get(emb_class) == 1 and probe.get("pid") == worker_pid
    report.check(
        "one model copy per worker process (model objects in the process)",
        model,
        PASS if ok else FAIL,
        f"pid {probe.get('pid')} (worker {worker_pid}) holds {copies}",
    )

    weights = generator.get("bytes", 0) + embedder.get("bytes", 0)
    memory = reading.get("cuda_memory")
    if not cuda:
        report.check("GPU memory per worker process (torch)", model, NO_CUDA, f"weights {weights / GIB:.2f} GiB")
    elif memory is None or not weights:
        report.check("GPU memory per worker process (torch)", model, FAIL, "no CUDA memory reading from the worker")
    else:
        ratio = memory["allocated"] / weights
        detail = (
            f"allocated {memory['allocated'] / GIB:.2f} GiB at rest = {ratio:.2f} x the weights "
            f"({weights / GIB:.2f} GiB); peak {memory['max_allocated'] / GIB:.2f} GiB, reserved {memory['reserved'] / GIB:.2f} GiB"
        )
        report.check("GPU memory per worker process (torch)", model, PASS if ratio < ONE_COPY_RATIO else FAIL, detail)

    apps = gpu_processes() if cuda else None
    if not cuda:
        report.check("GPU memory per process (nvidia-smi)", model, NO_CUDA, "")
    elif apps is None:
        report.check("GPU memory per process (nvidia-smi)", model, FAIL, "nvidia-smi did not answer")
    elif not apps:
        report.check("GPU memory per process (nvidia-smi)", model, "skipped: nvidia-smi lists no processes here", "")
    else:
        listed = ", ".join(f"pid {p}: {mib / 1024:.2f} GiB" for p, mib in sorted(apps.items()))
        ok = worker_pid in apps and api_pid not in apps
        report.check(
            "GPU memory per process (nvidia-smi)", model, PASS if ok else FAIL, f"{listed} (worker {worker_pid})"
        )

    before = [probe.get("at_start"), probe.get("at_worker_init"), probe.get("at_worker_ready")]
    detail = (
        f"at start: {_state(before[0])}; before the pool (worker_init): {_state(before[1])}; "
        f"pool started, before the warm-up (worker_ready): {_state(before[2])}"
    )
    if not cuda:
        report.check("no CUDA before the pool started", model, NO_CUDA, detail)
    else:
        clean = all(b is not None and not b["cuda_initialized"] for b in before)
        report.check(
            "no CUDA before the pool started", model, PASS if clean and reading["cuda_initialized"] else FAIL, detail
        )

    libraries = mapped_libraries(api_pid)
    report.check(
        "the API process maps no torch or CUDA library",
        model,
        PASS if not libraries else FAIL,
        f"pid {api_pid}: {', '.join(libraries) or 'none of libtorch, libcuda, libcudart'}",
    )
