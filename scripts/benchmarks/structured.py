"""Structured outputs on the real default model through the platform (one llm worker on the
default engine, vLLM where installed): the cost of decoding under a JSON schema, and how often
the answers validate.

- tokens/s of 64 jobs submitted at once, constrained by a schema, against the same jobs free,
  each cut at its constrained twin's length (the same prompts, the same lengths); the median
  of the rounds' ratios, the two sides taking turns at going first;
- ``generations`` jobs over three schemas (an object with enums, an array of objects, a nested
  object), greedy and sampled in turn: how many finished (``stop``) and validate.

    .venv/bin/python -m scripts.benchmarks.structured [rounds] [generations]
"""

import json
import sys
import tempfile
from pathlib import Path

import jsonschema

from devtools.structured_cases import BOOK, CITIES, TASK
from scripts.benchmarks.common import OPEN_API, jobs_sync, private_stack
from scripts.benchmarks.report import Figure, machine, median

SECTION = "Structured outputs"
SCHEMAS = {"task": TASK, "cities": CITIES, "book": BOOK}
PROMPTS = {
    "task": "A task for a software team, as JSON.",
    "cities": "Big cities of Europe, as JSON.",
    "book": "A famous novel, as JSON.",
}
TOKENS = 128


def _body(i: int, constrained: bool, sampled: bool = False) -> dict:
    name = list(SCHEMAS)[i % len(SCHEMAS)]
    body: dict = {"messages": [{"role": "user", "content": PROMPTS[name]}], "max_new_tokens": TOKENS}
    if constrained:
        spec = {"name": name, "schema": SCHEMAS[name], "strict": True}
        body["response_format"] = {"type": "json_schema", "json_schema": spec}
    if sampled:
        body.update(temperature=1.0, top_p=0.95, seed=i)
    return body


def _constrained(base: str, n: int = 64) -> tuple[float, list[int]]:
    """Tokens/s of ``n`` jobs under their schemas, and each one's length."""
    elapsed, jobs = jobs_sync(base, [{"path": "/v1/llm/generate", "json": _body(i, True)} for i in range(n)], n)
    lengths = [j["result"]["usage"]["completion_tokens"] for j in jobs]
    return sum(lengths) / elapsed, lengths


def _free(base: str, lengths: list[int]) -> float:
    """Tokens/s of the same jobs free, each cut at the length its constrained twin had (a
    constrained answer ends when its JSON closes; a free one would run on to max_new_tokens, and
    a batch of longer jobs keeps more sequences busy to its end)."""
    free = [
        {"path": "/v1/llm/generate", "json": {**_body(i, False), "max_new_tokens": max(1, n)}}
        for i, n in enumerate(lengths)
    ]
    elapsed, jobs = jobs_sync(base, free, concurrency=len(free))
    return sum(j["result"]["usage"]["completion_tokens"] for j in jobs) / elapsed


def _round(base: str, lengths: list[int] | None) -> tuple[float, float, list[int]]:
    """Constrained and free tokens/s, in turn: constrained first when no lengths are known yet
    (the first round), free first otherwise (with the last round's lengths: greedy, the same
    prompts give the same answers), so neither side always runs on the engine the other warmed."""
    if lengths is None:
        constrained, lengths = _constrained(base)
        return constrained, _free(base, lengths), lengths
    free = _free(base, lengths)
    constrained, lengths = _constrained(base)
    return constrained, free, lengths


def run(workdir: Path, rounds: int = 3, generations: int = 200) -> list[Figure]:
    with private_stack(workdir) as stack:
        stack.start_worker("llm", env={"LLM_KV_CACHE_GIB": "2"}, wait=600)
        base = stack.start_api(domain="llm", env=OPEN_API)
        for constrained in (False, True):  # warm: the engine, and each schema's grammar compiled once
            jobs_sync(base, [{"path": "/v1/llm/generate", "json": _body(i, constrained)} for i in range(3)])
        ratios, free, bound, lengths = [], [], [], None
        for _ in range(rounds):
            constrained, unconstrained, lengths = _round(base, lengths)
            bound.append(constrained)
            free.append(unconstrained)
            ratios.append(constrained / unconstrained)
        requests = [
            {"path": "/v1/llm/generate", "json": _body(i, True, sampled=i % 2 == 1)} for i in range(generations)
        ]
        _, jobs = jobs_sync(base, requests, concurrency=64)
        engine = jobs[0]["result"]["engine"]
    valid = 0
    for i, job in enumerate(jobs):
        result = job["result"]
        if result["finish_reason"] != "stop":
            continue
        try:
            jsonschema.validate(json.loads(result["text"]), SCHEMAS[list(SCHEMAS)[i % len(SCHEMAS)]])
            valid += 1
        except (ValueError, jsonschema.ValidationError):
            pass
    ratio = median(ratios)
    return [
        Figure(SECTION, "structured outputs, 64 concurrent jobs: tokens/s constrained / free",
               f"{ratio:.2f} ({median(bound):.0f} / {median(free):.0f} tokens/s; SmolLM2-135M-Instruct on {engine}; "
               f"rounds: {', '.join(f'{r:.2f}' for r in ratios)})",
               "≥ 0.9", ratio >= 0.9),
        Figure(SECTION, f"structured outputs: answers that finish and validate, {generations} over three schemas",
               f"{valid} of {generations} (greedy and sampled in turn; {engine})", f"{generations} of {generations}",
               valid == generations),
    ]  # fmt: skip


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    with tempfile.TemporaryDirectory(prefix="domainq-bench-") as tmp:
        for figure in run(Path(tmp), *args):
            print(f"{figure.name}: {figure.value} (target {figure.target}) {figure.verdict}".rstrip())
    print(f"Machine: {machine()}")
