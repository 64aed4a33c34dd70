"""LLM engines through the platform: vLLM (continuous batching) against transformers (static
batches at its best settings), on the real default model, in one run; and vLLM called directly.

Each side gets the same jobs (chat prompts, max_new_tokens 16-128 mixed, greedy) through HTTP,
the queue and one llm worker: 8 and 64 submitted at once, then Poisson arrivals at one rate for
both (0.8 of the transformers engine's 64-job capacity), and vLLM at 0.8 of its own.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from scripts.benchmarks.common import jobs_sync, private_stack
from scripts.benchmarks.llm_workload import MODEL, arrivals, poisson_latencies, requests
from scripts.benchmarks.report import Figure, median, percentile

SECTION = "LLM engines"
ENGINES = {
    # Static batches: the largest batch (all 64 jobs in one generate call) was its best here.
    "transformers": {"LLM_ENGINE": "transformers", "LLM_MAX_BATCH": "64"},
    # The defaults (bfloat16 from the model folder, 64 requests at once, eager on the CPU).
    "vllm": {"LLM_ENGINE": "vllm", "VLLM_CPU_KVCACHE_SPACE": "2"},
}
POISSON_JOBS = 64
LOAD = 0.8  # arrival rate as a share of the measured 64-job capacity


def _tokens_per_s(base: str, n: int, rounds: int) -> tuple[float, float]:
    """Median generated tokens/s and jobs/s for ``n`` jobs submitted at once."""
    tokens, jobs_rate = [], []
    for _ in range(rounds):
        elapsed, jobs = jobs_sync(base, requests(n), concurrency=n)
        tokens.append(sum(j["result"]["usage"]["completion_tokens"] for j in jobs) / elapsed)
        jobs_rate.append(n / elapsed)
        assert {j["result"]["engine"] for j in jobs} == {j["result"]["engine"] for j in jobs[:1]}
    return median(tokens), median(jobs_rate)


def _latency(values: list[float]) -> str:
    return f"{percentile(values, 50):.2f} / {percentile(values, 99):.2f} s"


def _platform(workdir: Path, engine: str, rounds: int, rate: float | None) -> dict:
    with private_stack(workdir) as stack:
        stack.start_worker("llm", env=ENGINES[engine], wait=300)
        base = stack.start_api(domain="llm")
        jobs_sync(base, requests(1))  # the engine is up and warm
        out: dict = {}
        out["tok8"], _ = _tokens_per_s(base, 8, rounds)
        out["tok64"], out["jobs64"] = _tokens_per_s(base, 64, rounds)
        rate = rate or LOAD * out["jobs64"]
        out["rate"] = rate
        out["poisson"] = poisson_latencies(base, arrivals(POISSON_JOBS, rate))
        if engine == "vllm":
            own = LOAD * out["jobs64"]
            out["own_rate"] = own
            out["own_poisson"] = poisson_latencies(base, arrivals(2 * POISSON_JOBS, own))
        return out


def _direct(rounds: int) -> float:
    done = subprocess.run(
        [sys.executable, "-m", "scripts.benchmarks.vllm_direct", "64", str(rounds)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, **ENGINES["vllm"]},
    )
    if done.returncode:
        raise RuntimeError(f"direct vLLM run failed:\n{done.stderr[-3000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["tokens_per_s"])


def run(workdir: Path, rounds: int = 2) -> list[Figure]:
    hf = _platform(workdir / "transformers", "transformers", rounds, None)
    vl = _platform(workdir / "vllm", "vllm", rounds, hf["rate"])
    direct = _direct(rounds)
    m = f"({MODEL})"
    ratio64, ratio_direct = vl["tok64"] / hf["tok64"], vl["tok64"] / direct
    p99_hf, p99_vl = percentile(hf["poisson"], 99), percentile(vl["poisson"], 99)
    return [
        Figure(SECTION, f"transformers {m}, 8 concurrent jobs", f"{hf['tok8']:.1f} tokens/s"),
        Figure(SECTION, f"vllm {m}, 8 concurrent jobs", f"{vl['tok8']:.1f} tokens/s"),
        Figure(SECTION, f"transformers {m}, 64 concurrent jobs", f"{hf['tok64']:.1f} tokens/s"),
        Figure(SECTION, f"vllm {m}, 64 concurrent jobs", f"{vl['tok64']:.1f} tokens/s"),
        Figure(SECTION, "vllm / transformers, 64 concurrent jobs", f"{ratio64:.2f}x", "≥ 3x", ratio64 >= 3),
        Figure(SECTION, f"vllm {m} called directly (AsyncLLM in one process), 64 requests", f"{direct:.1f} tokens/s"),
        Figure(SECTION, "vllm through the platform / direct", f"{ratio_direct:.2f}", "≥ 0.9", ratio_direct >= 0.9),
        Figure(
            SECTION,
            f"transformers {m}, Poisson arrivals at {hf['rate']:.2f} jobs/s, latency p50 / p99",
            _latency(hf["poisson"]),
        ),
        Figure(
            SECTION,
            f"vllm {m}, the same arrivals, latency p50 / p99",
            _latency(vl["poisson"]),
            "p99 not worse",
            p99_vl <= p99_hf,
        ),
        Figure(
            SECTION,
            f"vllm {m}, Poisson arrivals at {vl['own_rate']:.2f} jobs/s (0.8 of its capacity), latency p50 / p99",
            _latency(vl["own_poisson"]),
        ),
    ]


NOTE = (
    f"Every figure is on the real default model, {MODEL}, on this machine's CPU: transformers in float32 "
    "(its CPU default) with static batches of up to 64 jobs (LLM_MAX_BATCH=64, its best setting here), vLLM "
    "(vllm-cpu) in bfloat16, eager, 64 requests at once (LLM_MAX_NUM_SEQS). Jobs: chat prompts asking for a "
    "long story, max_new_tokens 16, 32, ... 128 (one of each per eight jobs), greedy; tokens/s counts the "
    "tokens each job generated, submitted at once, median of two rounds, through HTTP, the queue and one "
    "llm worker. Poisson runs: 64 jobs arriving at 0.8 of the transformers engine's 64-job capacity for "
    "both engines (equal load), then 128 jobs at 0.8 of vLLM's own; latency is submission to result, seen "
    "by the client. Direct: the same prompts and settings on one AsyncLLM in one process, no queue."
)
