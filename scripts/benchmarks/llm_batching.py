"""LLM micro-batching: eight concurrent generate jobs through the platform, batching on vs off;
and the real default model's tokens per second."""

import time
from pathlib import Path

from scripts.benchmarks.common import jobs_sync, private_stack
from scripts.benchmarks.report import Figure, median

SECTION = "LLM micro-batching"
JOBS = 8
NEW_TOKENS = 64


def _platform_rate(workdir: Path, model: Path, max_batch: int, rounds: int) -> tuple[float, int]:
    """Jobs per second for ``JOBS`` concurrent greedy jobs; and the largest batch seen."""
    requests = [
        {"path": "/v1/llm/generate", "json": {"prompt": f"Job {i} of the benchmark run", "max_new_tokens": NEW_TOKENS}}
        for i in range(JOBS)
    ]
    with private_stack(workdir) as stack:
        stack.start_worker("llm", env={"LLM_MODEL": str(model), "LLM_MAX_BATCH": str(max_batch)}, wait=180)
        base = stack.start_api(domain="llm")
        jobs_sync(base, requests[:1])  # model loaded
        rates, batch = [], 0
        for _ in range(rounds):
            elapsed, jobs = jobs_sync(base, requests)
            rates.append(JOBS / elapsed)
            batch = max(batch, *(j["result"]["batch_size"] for j in jobs))
        return median(rates), batch


def _default_model_tokens_per_s(rounds: int = 3) -> tuple[float, str]:
    from common.contracts.llm import GenerateRequest
    from workers.domains.llm import tasks
    from workers.domains.llm.generator import GenerationJob

    generator = tasks.generator.get()
    request = GenerateRequest(prompt="Write a short story about a lighthouse keeper.", max_new_tokens=NEW_TOKENS)
    generator.generate([GenerationJob(request)])  # warm
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        result = generator.generate([GenerationJob(request)])[0]
        rates.append(result.usage.completion_tokens / (time.perf_counter() - started))
    return median(rates), generator.name


def run(workdir: Path, rounds: int = 3) -> list[Figure]:
    from tests.llm_models import build_tiny_llm  # the suite's tiny model, a little larger (~0.8M parameters)

    model = build_tiny_llm(workdir / "tiny-model", hidden=128, layers=4)
    on, batch_on = _platform_rate(workdir / "on", model, max_batch=JOBS, rounds=rounds)
    off, batch_off = _platform_rate(workdir / "off", model, max_batch=1, rounds=rounds)
    real, name = _default_model_tokens_per_s()
    return [
        Figure(
            SECTION,
            f"{JOBS} concurrent jobs × {NEW_TOKENS} tokens, batching on (largest batch {batch_on})",
            f"{on:.2f} jobs/s",
        ),
        Figure(SECTION, f"the same, batching off (LLM_MAX_BATCH=1, largest batch {batch_off})", f"{off:.2f} jobs/s"),
        Figure(SECTION, "on / off", f"{on / off:.2f}x", "≥ 3x", on / off >= 3),
        Figure(SECTION, f"default model {name}, one greedy job, in process", f"{real:.1f} tokens/s"),
    ]
