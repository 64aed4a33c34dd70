"""``python -m devtools.llm_answers MAX_NEW_TOKENS QUESTION...``: greedy answers from the llm
engine a worker would build from this environment (``LLM_ENGINE``, ``LLM_DTYPE``, ...).

It builds the engine through the worker's own code (``workers.domains.llm.tasks``), so the
engine and dtype ``auto`` picks are the worker's; asks every question at once, as concurrent
jobs would; and prints one JSON line: the engine, the dtype its model runs in, the answers. The
worker's start-up log goes to stderr. Its own process: vLLM's engine core is spawned, and
re-imports this module (hence the ``__main__`` guard).
"""

import concurrent.futures
import json
import logging
import sys


def main(max_new_tokens: int, questions: list[str]) -> dict:
    from common.contracts.llm import GenerateRequest
    from workers.domains.llm import engines, tasks

    requests = [
        GenerateRequest(messages=[{"role": "user", "content": q}], max_new_tokens=max_new_tokens) for q in questions
    ]
    if tasks.engine.get() == engines.VLLM:
        vllm = tasks.vllm_generator.get()
        with concurrent.futures.ThreadPoolExecutor(len(requests)) as pool:
            results = list(pool.map(vllm.generate, requests))
        dtype = vllm.engine.model_config.dtype
        vllm.engine.shutdown()
    else:
        from workers.domains.llm.generator import GenerationJob

        generator = tasks.generator.get()
        results = generator.generate([GenerationJob(r) for r in requests])
        dtype = generator.model.dtype
    return {
        "engine": results[0].engine,
        "dtype": str(dtype).removeprefix("torch."),
        "answers": [r.text for r in results],
    }


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    print(json.dumps(main(int(sys.argv[1]), sys.argv[2:])), flush=True)
