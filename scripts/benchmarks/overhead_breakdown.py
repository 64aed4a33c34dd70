"""Where the queue overhead goes: sequential embed jobs through a private stack, each timed by
the client (the POST, the whole round trip) and by its record (created → started → finished).

    .venv/bin/python -m scripts.benchmarks.overhead_breakdown [jobs] [OMP_WAIT_POLICY]

Prints medians in ms over the jobs after a warm-up of 20. Pair it with the queue-overhead
section of ``scripts/benchmark.py``: there the model's own time is the direct call's.
"""

import http.client
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from scripts.benchmarks.common import OPEN_API, private_stack

WARM = 20


def _moment(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def main(jobs: int = 100, wait_policy: str | None = None) -> None:
    env = {"LLM_ENGINE": "transformers", **({"OMP_WAIT_POLICY": wait_policy} if wait_policy else {})}
    with tempfile.TemporaryDirectory(prefix="domainq-breakdown-") as tmp, private_stack(Path(tmp)) as stack:
        stack.start_worker("llm", wait=180, env=env)
        host, port = stack.start_api(domain="llm", env=OPEN_API).removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=60)

        def request(method: str, path: str, body: str | None = None) -> dict:
            conn.request(method, path, body, {"Content-Type": "application/json"} if body else {})
            return dict(json.loads(conn.getresponse().read()))

        rows = []
        for _ in range(WARM + jobs):
            began = time_ms()
            job_id = request("POST", "/v1/llm/embed", json.dumps({"texts": ["The quick brown fox"]}))["id"]
            posted = time_ms()
            job = request("GET", f"/v1/jobs/{job_id}?wait=30")
            answered = time_ms()
            assert job["status"] == "succeeded", job
            created, started, finished = (_moment(job[k]) * 1000 for k in ("created_at", "started_at", "finished_at"))
            rows.append((posted - began, started - created, finished - started, answered - began))
    names = ("POST", "created → started", "started → finished", "POST + long-poll")
    for n, name in enumerate(names):
        print(f"{name}: {statistics.median(r[n] for r in rows[WARM:]):.2f} ms")


def time_ms() -> float:
    return time.perf_counter() * 1000


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100, sys.argv[2] if len(sys.argv) > 2 else None)
