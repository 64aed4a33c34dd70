"""vLLM called directly: one AsyncLLM in this process, the benchmark's jobs as concurrent requests.

    python -m scripts.benchmarks.vllm_direct 64    # prints "ready", then a round per line read

Each line on stdin runs one round of 64 concurrent requests and prints its tokens/s as JSON, so
the caller can interleave these rounds with the platform's on a machine whose load drifts.

The baseline of "vllm through the platform / direct": the same engine settings as the worker's
defaults, the same prompts (chat template applied by the same tokenizer), no HTTP, queue or
Redis. Its own process, started with the ``__main__`` guard vLLM's spawned engine core needs.
"""

import asyncio
import itertools
import json
import os
import sys
import time

# vLLM logs to stdout too: the answers carry this prefix.
MARK = "vllm_direct: "


async def _round(engine, prompts, params, tag: str) -> tuple[float, int]:
    from vllm.inputs import TokensPrompt

    async def one(i: int) -> int:
        tokens = 0
        async for output in engine.generate(TokensPrompt(prompt_token_ids=prompts[i]), params[i], f"{tag}-{i}"):
            tokens = len(output.outputs[0].token_ids)
        return tokens

    started = time.perf_counter()
    counts = await asyncio.gather(*(one(i) for i in range(len(prompts))))
    return time.perf_counter() - started, sum(counts)


async def _main(n: int) -> None:
    from transformers import AutoTokenizer
    from vllm import SamplingParams
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.v1.engine.async_llm import AsyncLLM

    from scripts.benchmarks.llm_workload import body
    from workers.domains.llm import dtypes, models
    from workers.domains.llm.config import LlmSettings

    settings = LlmSettings()
    folder = str(models.converted_default_generator(settings.cache_dir))
    # What the worker builds on the CPU (workers/domains/llm/tasks.py): its dtype and KV cache.
    args = AsyncEngineArgs(
        model=folder,
        dtype=models.vllm_dtype(settings.dtype, on_cpu=True, cpu=dtypes.read_cpu_flags()).dtype,
        kv_cache_memory_bytes=models.kv_cache_bytes(settings.kv_cache_gib, on_cpu=True),
        max_num_seqs=settings.max_num_seqs,
        enforce_eager=True,
        disable_log_stats=True,
    )
    engine = AsyncLLM.from_engine_args(args)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    bodies = [body(i) for i in range(n)]
    prompts = [
        tokenizer(tokenizer.apply_chat_template(b["messages"], add_generation_prompt=True, tokenize=False),
                  add_special_tokens=False)["input_ids"]
        for b in bodies
    ]  # fmt: skip
    params = [SamplingParams(max_tokens=b["max_new_tokens"], temperature=0) for b in bodies]
    await _round(engine, prompts[:1], params[:1], "warm")
    print(f"{MARK}ready", flush=True)
    loop = asyncio.get_running_loop()
    for r in itertools.count():
        if not await loop.run_in_executor(None, sys.stdin.readline):
            break
        elapsed, tokens = await _round(engine, prompts, params, f"r{r}")
        print(MARK + json.dumps({"tokens_per_s": tokens / elapsed}), flush=True)
    engine.shutdown()


def main() -> None:
    os.environ.setdefault("VLLM_WORKER_MULTIPROC_METHOD", "spawn")
    asyncio.run(_main(int(sys.argv[1])))


if __name__ == "__main__":
    main()
