"""The GPU check's stack and, per model, its phases: worker, jobs over HTTP, checks, rounds.

Each phase method takes its budget in seconds and keeps to it: every wait, request and child
process it starts is bounded by it.
"""

import asyncio
import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from devtools.localstack import LocalStack, Proc
from scripts.benchmarks.common import FINISHED, run_jobs
from scripts.benchmarks.gpu_checks import evaluate, fresh_reading, wait_loaded
from scripts.benchmarks.gpu_direct import MARK
from scripts.benchmarks.gpu_report import FAIL, PASS, Report
from scripts.benchmarks.llm_workload import body

ROOT = Path(__file__).resolve().parents[2]
LOG_TAIL = 20_000  # characters of each process's log kept in the report's log file


class CheckStack:
    """Redis and the API (``DOMAIN=llm``) on loopback: one for each model, so that jobs a
    timed-out round left queued never reach the next model's worker."""

    def __init__(self, workdir: Path, api_env: dict[str, str]) -> None:
        self.local = LocalStack(workdir)
        self.api_env = api_env
        self.base = ""
        self.api: Proc | None = None

    @property
    def headers(self) -> dict[str, str]:
        return self.local.auth_headers

    def start(self, budget: float) -> str:
        self.local.start_redis(persist=False)
        self.base = self.local.start_api(domain="llm", env=self.api_env, wait=budget)
        self.api = self.local.procs[-1]
        print(f"  redis {self.local.redis_url}, API {self.base} (pid {self.api.popen.pid})", flush=True)
        return self.base

    def close(self) -> None:
        """Stop every process of this stack (briefly: the run's time may be nearly out)."""
        for proc in reversed(self.local.procs):
            proc.stop(timeout=5)
        self.local.procs.clear()


def keep_logs(work: Path, logs_out: Path) -> None:
    """The tails of every log the run's processes wrote, in one file that travels back."""
    parts = []
    for log in sorted(work.rglob("*.log")):
        text = log.read_text(errors="replace")
        parts.append(f"===== {log.relative_to(work)} (last {LOG_TAIL} characters)\n{text[-LOG_TAIL:]}\n")
    logs_out.parent.mkdir(parents=True, exist_ok=True)
    logs_out.write_text("".join(parts))


def _requests(n: int, max_new_tokens: int) -> list[dict[str, Any]]:
    return [{"path": "/v1/llm/generate", "json": {**body(i), "max_new_tokens": max_new_tokens}} for i in range(n)]


class ModelRun:
    """One model: its worker, its jobs end to end, its checks, platform and direct rounds."""

    def __init__(
        self, report: Report, stack: CheckStack, model: str, path: str, embed_path: str, device: str, sizes: Any
    ) -> None:
        self.report, self.stack, self.model, self.device, self.sizes = report, stack, model, device, sizes
        self.probe = stack.local.workdir / f"probe-{model}.json"
        self.env = {
            "LLM_ENGINE": "transformers",
            "LLM_DEVICE": device,
            "LLM_MODEL": path,
            "LLM_EMBED_MODEL": embed_path,
            "LLM_MAX_BATCH": str(max(sizes.levels)),
            "LLM_CACHE_DIR": str(stack.local.workdir / "cache"),
            "HF_HUB_OFFLINE": "1",
            "GPU_CHECK_PROBE": str(self.probe),
        }
        self.proc: Proc | None = None  # the worker
        self.cuda = device.startswith("cuda")
        self.rows = report.throughput.setdefault(model, {})

    # -- the worker and its jobs over HTTP

    def worker(self, budget: float) -> None:
        deadline = time.monotonic() + budget
        self.proc = self.stack.local.start_worker("llm", env=self.env, wait=budget, module="devtools.gpu_probe")
        print(f"  worker {self.proc.node} (pid {self.proc.popen.pid}) answers; loading its models", flush=True)
        loaded = wait_loaded(self.probe, deadline - time.monotonic())["loaded"]
        print(f"  loaded: generator {loaded.get('generator')}, embedder {loaded.get('embedder')}", flush=True)

    def _job(self, client: httpx.Client, path: str, payload: dict[str, Any], deadline: float) -> dict[str, Any]:
        answer = client.post(path, json=payload)
        answer.raise_for_status()
        job_id = answer.json()["id"]
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"job {job_id} ({path}) did not finish in time")
            job = dict(client.get(f"/v1/jobs/{job_id}", params={"wait": max(1, min(30, int(left)))}).json())
            if job["status"] in FINISHED:
                return job

    def e2e(self, budget: float) -> None:
        deadline = time.monotonic() + budget
        chat = {"messages": [{"role": "user", "content": "What is the capital of France?"}], "max_new_tokens": 16}
        texts = {"texts": ["a cat on a mat", "a kitten on a rug"]}
        with httpx.Client(base_url=self.stack.base, headers=self.stack.headers, timeout=60) as client:
            gen = self._job(client, "/v1/llm/generate", chat, deadline)
            emb = self._job(client, "/v1/llm/embed", texts, deadline)
        result = gen.get("result") or {}
        detail = (
            f"engine {result.get('engine')}, model {result.get('model')}, {result.get('usage')}, "
            f"{result.get('elapsed_ms')} ms; text {str(result.get('text'))[:40]!r}"
        )
        self.report.e2e.append(
            {"model": self.model, "job": "generate (chat)", "status": gen["status"], "detail": detail}
        )
        result = emb.get("result") or {}
        vectors = result.get("embeddings") or []
        norms = [round(sum(x * x for x in v) ** 0.5, 3) for v in vectors]
        detail = f"{len(vectors)} vectors of {result.get('dim')}, norms {norms}, model {result.get('model')}"
        self.report.e2e.append(
            {"model": self.model, "job": "embed (2 texts)", "status": emb["status"], "detail": detail}
        )
        if gen["status"] != "succeeded" or emb["status"] != "succeeded":
            raise RuntimeError(f"a job did not succeed: generate {gen.get('error')}, embed {emb.get('error')}")

    def checks(self, budget: float) -> None:
        assert self.proc is not None and self.stack.api is not None
        probe = json.loads(self.probe.read_text())
        reading = fresh_reading(self.probe, budget)
        evaluate(self.report, self.model, probe, reading, self.proc.popen.pid, self.stack.api.popen.pid, self.cuda)

    # -- rounds

    def _platform_round(self, n: int, max_new_tokens: int, deadline: float) -> tuple[float, list[dict[str, Any]]]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no time left for the next platform round")
        work = run_jobs(self.stack.base, _requests(n, max_new_tokens), concurrency=n, headers=self.stack.headers)
        return asyncio.run(asyncio.wait_for(work, timeout=left))

    def platform(self, budget: float) -> None:
        deadline = time.monotonic() + budget
        top = max(self.sizes.levels)
        self._platform_round(top, 4, deadline)  # warm-up: every batch shape's kernels, the pool's threads
        for n in self.sizes.levels:
            elapsed, jobs = self._platform_round(n, self.sizes.max_new_tokens, deadline)
            tokens = sum(j["result"]["usage"]["completion_tokens"] for j in jobs)
            batches = sorted({j["result"]["batch_size"] for j in jobs})
            self.rows.setdefault(n, {}).update(platform=tokens / elapsed, platform_batches=batches)
            print(f"  platform, {n} concurrent: {tokens / elapsed:,.1f} tokens/s (batches {batches})", flush=True)
        reading = fresh_reading(self.probe, max(1.0, deadline - time.monotonic()))
        copies = reading.get("copies", {})
        classes = [reading.get(k, {}).get("class") for k in ("generator", "embedder")]
        ok = all(copies.get(c) == 1 for c in classes)
        memory = reading.get("cuda_memory")
        peak = f"; peak allocated {memory['max_allocated'] / 2**30:.2f} GiB" if memory else ""
        self.report.check("still one model copy after the rounds", self.model, PASS if ok else FAIL, f"{copies}{peak}")

    def direct(self, budget: float) -> None:
        deadline = time.monotonic() + budget
        self.close()  # the direct engine gets the device to itself
        if deadline - time.monotonic() < 3:
            raise TimeoutError("no time left once the worker had stopped")
        engine = DirectEngine({**os.environ, **self.env}, self.stack.local.workdir / f"direct-{self.model}.log")
        try:
            ready = engine.answer(deadline)
            print(f"  direct engine ready: {ready}", flush=True)
            engine.ask({"op": "concurrent", "n": max(self.sizes.levels), "max_new_tokens": 4}, deadline)  # warm-up
            for n in self.sizes.levels:
                found = engine.ask({"op": "concurrent", "n": n, "max_new_tokens": self.sizes.max_new_tokens}, deadline)
                self.rows.setdefault(n, {}).update(direct=found["tokens_per_s"], direct_batches=found["batch_sizes"])
                print(f"  direct, {n} concurrent: {found['tokens_per_s']:,.1f} tokens/s", flush=True)
            gain = self.report.batching.setdefault(self.model, {"batch": {}})
            command = {"op": "sequential", "n": self.sizes.sequential, "max_new_tokens": self.sizes.max_new_tokens}
            gain["sequential"] = engine.ask(command, deadline)
            print(f"  one at a time: {gain['sequential']['tokens_per_s']:,.1f} tokens/s", flush=True)
            for n in self.sizes.batches:
                found = engine.ask({"op": "batch", "n": n, "max_new_tokens": self.sizes.max_new_tokens}, deadline)
                gain["batch"][n] = found
                print(f"  one batch of {n}: {found['tokens_per_s']:,.1f} tokens/s", flush=True)
        finally:
            engine.close()

    def close(self) -> None:
        """Stop the worker, if it runs."""
        if self.proc is not None:
            self.proc.stop(timeout=10)
            with contextlib.suppress(ValueError):
                self.stack.local.procs.remove(self.proc)
            self.proc = None


class DirectEngine:
    """``python -m scripts.benchmarks.gpu_direct`` as a child: one JSON command, one answer."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = open(log, "ab")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scripts.benchmarks.gpu_direct"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            cwd=ROOT,
            env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.answered = False  # every command (and the start) answered
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(MARK):
                self.lines.put(line[len(MARK) :].strip())
        self.lines.put(None)

    def answer(self, deadline: float) -> str:
        try:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError("the direct engine did not answer in time") from None
        if line is None:
            raise RuntimeError(f"the direct engine exited ({self.proc.wait()}); see {Path(self.log.name).name}")
        self.answered = True
        return line

    def ask(self, command: dict[str, Any], deadline: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        self.answered = False
        found = dict(json.loads(self.answer(deadline)))
        if "error" in found:
            raise RuntimeError(f"direct {command['op']} {command['n']}: {found['error']}")
        return found

    def close(self) -> None:
        """End the process: at once if it still owes an answer (it would not read its stdin)."""
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(10 if self.answered else 0.1)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()
