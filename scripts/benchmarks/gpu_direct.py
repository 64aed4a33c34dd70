"""The transformers engine called directly: one process, no HTTP, queue or Redis (the GPU check).

    python -m scripts.benchmarks.gpu_direct      # LLM_* settings as the worker's; prints "ready"

It builds the engine the way a worker does (``workers.domains.llm.tasks``: the same settings,
model, device, dtype and micro-batcher), then answers one JSON command a line on stdin:

- ``{"op": "concurrent", "n": N, "max_new_tokens": L}``: N threads submit one job each to the
  micro-batcher at once, as N pool threads of a worker do;
- ``{"op": "sequential", "n": N, ...}``: N jobs, one ``generate`` call each, one after another;
- ``{"op": "batch", "n": N, ...}``: N jobs in one ``generate`` call.

Each answer: generated tokens, seconds, tokens/s and the batch sizes the engine ran.
"""

import json
import os
import sys
import threading
import time
from typing import Any

# Transformers and torch may log to stdout too: the answers carry this prefix.
MARK = "gpu_direct: "


def _requests(n: int, max_new_tokens: int) -> list[Any]:
    from common.contracts.llm import GenerateRequest
    from scripts.benchmarks.llm_workload import body

    return [GenerateRequest.model_validate({**body(i), "max_new_tokens": max_new_tokens}) for i in range(n)]


def _answer(results: list[Any], seconds: float) -> dict[str, Any]:
    tokens = sum(r.usage.completion_tokens for r in results)
    return {
        "tokens": tokens,
        "seconds": round(seconds, 4),
        "tokens_per_s": tokens / seconds,
        "batch_sizes": sorted({r.batch_size for r in results}),
    }


def run(command: dict[str, Any]) -> dict[str, Any]:
    from workers.domains.llm import tasks
    from workers.domains.llm.generator import GenerationJob

    requests = _requests(int(command["n"]), int(command["max_new_tokens"]))
    generator = tasks.generator.get()
    started = time.perf_counter()
    if command["op"] == "sequential":
        results = [out for r in requests for out in generator.generate([GenerationJob(r)])]
    elif command["op"] == "batch":
        results = generator.generate([GenerationJob(r) for r in requests])
    else:
        batcher = tasks.batcher.get()
        results = [None] * len(requests)

        def one(i: int) -> None:
            results[i] = batcher.submit(GenerationJob(requests[i]))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(requests))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    seconds = time.perf_counter() - started
    failed = [r for r in results if not hasattr(r, "usage")]
    if failed:
        raise RuntimeError(f"{len(failed)} direct jobs failed, e.g. {failed[0]!r}")
    return _answer(results, seconds)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from workers.domains.llm import tasks

    started = time.perf_counter()
    generator = tasks.generator.get()
    tasks.batcher.get()
    info = {"load_s": round(time.perf_counter() - started, 2), "device": str(generator.device), "model": generator.name}
    print(MARK + "ready " + json.dumps(info), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = run(json.loads(line))
        except Exception as exc:  # tell the caller; it decides what a failed round means
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print(MARK + json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
