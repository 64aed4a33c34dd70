"""LLM micro-batching: eight concurrent generate jobs through the platform, batching on vs off,
on the real default model (SmolLM2-135M-Instruct) and on a tiny random stand-in model.

The stand-in (~0.8M parameters) shows the platform's batching mechanics with almost no model
cost, so its ratio is close to the ceiling; the real model's ratio is what a user gets here.
"""

from pathlib import Path

from scripts.benchmarks.common import jobs_sync, private_stack
from scripts.benchmarks.report import Figure, median

SECTION = "LLM micro-batching"
JOBS = 8
NEW_TOKENS = 64
REAL = "SmolLM2-135M-Instruct (the default model)"
STAND_IN = "tiny random stand-in model (~0.8M parameters)"


def _platform_rate(workdir: Path, env: dict[str, str], max_batch: int, rounds: int) -> tuple[float, int, str]:
    """Generated tokens per second for ``JOBS`` concurrent greedy jobs; the largest batch; the model."""
    requests = [
        {"path": "/v1/llm/generate", "json": {"prompt": f"Job {i} of the benchmark run", "max_new_tokens": NEW_TOKENS}}
        for i in range(JOBS)
    ]
    with private_stack(workdir) as stack:
        stack.start_worker("llm", env={**env, "LLM_MAX_BATCH": str(max_batch)}, wait=300)
        base = stack.start_api(domain="llm")
        jobs_sync(base, requests[:1])  # model loaded
        rates, batch, model = [], 0, ""
        for _ in range(rounds):
            elapsed, jobs = jobs_sync(base, requests)
            rates.append(sum(j["result"]["usage"]["completion_tokens"] for j in jobs) / elapsed)
            batch = max(batch, *(j["result"]["batch_size"] for j in jobs))
            model = jobs[0]["result"]["model"]
        return median(rates), batch, model


def _compare(workdir: Path, label: str, env: dict[str, str], rounds: int) -> list[Figure]:
    on, batch_on, model = _platform_rate(workdir / "on", env, max_batch=JOBS, rounds=rounds)
    off, batch_off, _ = _platform_rate(workdir / "off", env, max_batch=1, rounds=rounds)
    return [
        Figure(
            SECTION,
            f"{label}: {JOBS} concurrent jobs × {NEW_TOKENS} tokens, batching on (largest batch {batch_on})",
            f"{on:.1f} tokens/s",
        ),
        Figure(
            SECTION,
            f"{label}: the same, batching off (LLM_MAX_BATCH=1, largest batch {batch_off})",
            f"{off:.1f} tokens/s",
        ),
        Figure(SECTION, f"{label}: on / off (results report model {model})", f"{on / off:.2f}x", "≥ 3x", on / off >= 3),
    ]


def run(workdir: Path, rounds: int = 3) -> list[Figure]:
    from devtools.tiny_llm import build_tiny_llm

    stand_in = build_tiny_llm(workdir / "tiny-model", hidden=128, layers=4)
    return [
        *_compare(workdir / "real", REAL, {}, rounds),
        *_compare(workdir / "stand-in", STAND_IN, {"LLM_MODEL": str(stand_in)}, rounds),
    ]


NOTE = (
    "Greedy decoding, the same eight prompts on both sides; one llm worker, one API, through HTTP and the queue. "
    "The stand-in model's figure shows the batcher's mechanics (its forward pass costs almost nothing, so batching "
    "is nearly free there); the SmolLM2 figure is what batching buys on a real model on this machine's CPU."
)
