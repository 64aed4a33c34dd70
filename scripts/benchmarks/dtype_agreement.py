"""How often the llm engine's greedy answer in each dtype equals float32's, word for word.

    .venv/bin/python -m scripts.benchmarks.dtype_agreement [--engine transformers|vllm] [--dtypes bfloat16 float32]

The reference is the transformers engine in float32, one prompt at a time (no padding). Each
dtype then answers the same 60 chat prompts (greedy, 32 new tokens) as a worker runs them: the
transformers engine in left-padded batches of ``LLM_MAX_BATCH`` (8), or vLLM with every prompt
in flight at once. So the float32 row shows what batching alone changes, and the bfloat16 row
what the dtype adds. The CPU's model and vector flags are printed beside the figures: bfloat16's
speed depends on them (workers/domains/llm/dtypes.py).
"""

import argparse
import concurrent.futures
import os
import statistics
import time
from pathlib import Path

# Questions with one short right answer, and open requests where the words are free.
PROMPTS = [
    *(f"What is the capital of {c}?" for c in (
        "France", "Japan", "Italy", "Germany", "Spain", "England", "Russia", "China", "Egypt", "Canada",
        "Brazil", "India", "Kenya", "Norway", "Greece",
    )),
    "What is the largest planet in the solar system?", "What is the chemical symbol for water?",
    "How many days are in a week?", "How many legs does a spider have?", "Who wrote Romeo and Juliet?",
    "What colour is the sky on a clear day?", "What is the freezing point of water in Celsius?",
    "Which ocean is the largest?", "What is the tallest mountain in the world?", "Who painted the Mona Lisa?",
    "What gas do plants take in from the air?", "What is 2 + 2?", "What is the opposite of hot?",
    "What language is spoken in Brazil?", "What is the longest river in Africa?",
    "Name three colours.", "Name three fruits.", "Name a famous scientist.", "List the four seasons.",
    "Give me a synonym for happy.", "Translate 'good morning' into French.", "What does a bee make?",
    "Why do leaves fall in autumn?", "How does a rainbow form?", "What is photosynthesis?",
    "Explain gravity in one sentence.", "What is a prime number?", "What is the speed of light?",
    "Describe a cat in one sentence.", "Write a haiku about the sea.", "Tell me a fun fact about owls.",
    "Suggest a name for a pet dog.", "What should I eat for breakfast?", "How do I boil an egg?",
    "Give one tip for better sleep.", "Write a sentence about winter.", "What is the internet?",
    "What is a computer?", "Why is exercise good for you?", "What is the sun made of?",
    "How many continents are there?", "What is the boiling point of water?", "Who was Albert Einstein?",
    "What is a volcano?", "Say hello in Spanish.",
]  # fmt: skip
MAX_NEW_TOKENS = 32


def _requests() -> list:
    from common.contracts.llm import GenerateRequest

    return [GenerateRequest(messages=[{"role": "user", "content": p}], max_new_tokens=MAX_NEW_TOKENS) for p in PROMPTS]


def _transformers(folder: str, dtype: str, batch: int) -> tuple[list[str], float]:
    """Each prompt's answer, and the tokens/s, in ``dtype`` with batches of ``batch``."""
    import torch

    from workers.domains.llm.generator import GenerationJob, TextGenerator

    engine = TextGenerator(folder, "default", torch.device("cpu"), getattr(torch, dtype), progress_interval_s=60)
    requests = _requests()
    started = time.perf_counter()
    results = []
    for i in range(0, len(requests), batch):
        results += engine.generate([GenerationJob(r) for r in requests[i : i + batch]])
    elapsed = time.perf_counter() - started
    return [r.text for r in results], sum(r.usage.completion_tokens for r in results) / elapsed


def _vllm(folder: str, dtype: str) -> tuple[list[str], float]:
    from workers.domains.llm import models
    from workers.domains.llm.vllm_engine import VllmGenerator, VllmOptions

    options = VllmOptions(
        dtype=dtype, max_num_seqs=64, max_model_len=2048, gpu_memory_utilization=0.9, enforce_eager=True,
        kv_cache_bytes=models.kv_cache_bytes(0, on_cpu=True),
    )  # fmt: skip
    engine = VllmGenerator(folder, "default", options, progress_interval_s=60)
    requests = _requests()
    engine.generate(requests[0])  # warm
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(len(requests)) as pool:
        results = list(pool.map(engine.generate, requests))
    elapsed = time.perf_counter() - started
    engine.engine.shutdown()  # its engine core process and KV cache: the next dtype starts its own
    return [r.text for r in results], sum(r.usage.completion_tokens for r in results) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("transformers", "vllm"), default="transformers")
    parser.add_argument("--dtypes", nargs="+", default=["bfloat16", "float32"])
    parser.add_argument("--batch", type=int, default=8, help="transformers: prompts per batch (LLM_MAX_BATCH)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each dtype, taking turns (tokens/s: median)")
    parser.add_argument("--show", action="store_true", help="print each answer that differs beside float32's")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VLLM_WORKER_MULTIPROC_METHOD", "spawn")
    import torch

    from scripts.benchmarks.report import cpu_flags, machine
    from workers.domains.llm import dtypes, models
    from workers.domains.llm.config import LlmSettings

    folder = str(models.converted_default_generator(LlmSettings().cache_dir))
    cpu = dtypes.read_cpu_flags()
    if args.engine == "vllm":
        auto = models.vllm_dtype("auto", on_cpu=True, cpu=cpu)
    else:
        auto = models.generator_dtype("auto", torch.device("cpu"), cpu)
    cpu_model = dtypes.cpu_model(Path("/proc/cpuinfo").read_text())
    print(f"machine: {machine()}")
    print(f"auto picks {auto.dtype} here: {auto.reason}")
    reference, ref_rate = _transformers(folder, "float32", batch=1)
    print(f"reference: transformers float32, one prompt at a time: {ref_rate:.1f} tokens/s")
    # The dtypes take turns, round after round, so load from elsewhere falls on each alike;
    # greedy answers repeat, so the first round's are the ones compared.
    rates: dict[str, list[float]] = {dtype: [] for dtype in args.dtypes}
    answers: dict[str, list[str]] = {}
    for _ in range(args.rounds):
        for dtype in args.dtypes:
            texts, rate = _vllm(folder, dtype) if args.engine == "vllm" else _transformers(folder, dtype, args.batch)
            answers.setdefault(dtype, texts)
            rates[dtype].append(rate)
    for dtype in args.dtypes:
        same = sum(a == r for a, r in zip(answers[dtype], reference, strict=True))
        if args.show:
            for prompt, answer, ref in zip(PROMPTS, answers[dtype], reference, strict=True):
                if answer != ref:
                    print(f"{prompt}\n  float32: {ref!r}\n  {dtype}: {answer!r}")
        rate = statistics.median(rates[dtype])
        print(
            f"llm dtype agreement: greedy answers equal to float32, {len(PROMPTS)} prompts | {args.engine} "
            f"{dtype} | {same} of {len(PROMPTS)} | {rate:.1f} tokens/s (median of {', '.join(f'{r:.1f}' for r in rates[dtype])}) | "
            f"{cpu_model} ({cpu_flags()})",
            flush=True,
        )


if __name__ == "__main__":  # vLLM's engine core is a spawned process: it imports this module again
    main()
