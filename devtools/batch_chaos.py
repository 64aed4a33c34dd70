"""A batch chaos run: one OpenAI batch of embeddings lines while the llm worker is SIGKILLed,
the API is SIGKILLed and Redis is killed and restarted on its append-only file; then an account
of every line in the batch's output and error files. ``scripts/batch_chaos.py`` runs it (the
rows of docs/reliability.md); the suite runs a short one (``tests/openai/test_batch_chaos.py``).
"""

import json
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devtools.chaos import SETTINGS
from devtools.localstack import LocalStack, Proc

BATCH_SETTINGS = {**SETTINGS, "BATCH_STEP_S": "0.2", "BATCH_WINDOW": "64"}
EMBEDDING_MODEL = "all-MiniLM-L6-v2"
ENDED = ("completed", "failed", "expired", "cancelled")


@dataclass
class BatchReport:
    lines: int = 0
    status: str = ""
    in_output: int = 0
    in_error_file: int = 0
    missing: list[str] = field(default_factory=list)
    twice: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)  # what was done, at which share of the lines done
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def counts_right(self) -> bool:
        c = self.counts
        return (c.get("total"), c.get("completed"), c.get("failed")) == (self.lines, self.in_output, self.in_error_file)

    def rows(self) -> list[tuple[str, str]]:
        reasons = ", ".join(f"{n} {code}" for code, n in self.errors.most_common())
        return [
            ("lines", f"{self.lines:,}"),
            ("batch status", self.status),
            ("in output", f"{self.in_output:,}"),
            ("in error file", f"{self.in_error_file:,}" + (f" ({reasons})" if reasons else "")),
            ("missing", f"{len(self.missing)}"),
            ("custom_id twice", f"{len(self.twice)}"),
            ("request_counts match the files", "yes" if self.counts_right else f"no: {self.counts}"),
        ]


class BatchChaos:
    def __init__(self, workdir: Path, lines: int) -> None:
        self.workdir, self.lines = workdir, lines
        self.stack = LocalStack(workdir, env=dict(BATCH_SETTINGS))
        self.report = BatchReport(lines=lines)

    def run(self) -> BatchReport:
        started = time.monotonic()
        with self.stack:
            self.stack.start_redis(persist=True)
            self.redis_port = int(self.stack.redis_url.rsplit(":", 1)[1].split("/")[0])
            self.api = self.stack.start_api(domain="llm")
            self.worker = self.stack.start_worker("llm", wait=180)
            batch_id = self._create()
            events: list[tuple[float, Callable[[], None]]] = [
                (0.2, self._kill_worker),
                (0.45, self._kill_api),
                (0.7, self._restart_redis),
            ]
            batch = self._follow(batch_id, events)
            self._account(batch)
        self.report.seconds = time.monotonic() - started
        return self.report

    def _http(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.api}/openai/v1", headers=self.stack.auth_headers, timeout=60)

    def _create(self) -> str:
        body = "".join(
            json.dumps({"custom_id": f"line-{i}", "method": "POST", "url": "/v1/embeddings",
                        "body": {"model": EMBEDDING_MODEL, "input": f"sentence number {i}"}}) + "\n"
            for i in range(self.lines)
        )  # fmt: skip
        with self._http() as http:
            made = http.post("/files", files={"file": ("lines.jsonl", body.encode())}, data={"purpose": "batch"})
            made.raise_for_status()
            batch = http.post(
                "/batches",
                json={"input_file_id": made.json()["id"], "endpoint": "/v1/embeddings", "completion_window": "24h"},
            )
            batch.raise_for_status()
            return str(batch.json()["id"])

    def _follow(self, batch_id: str, events: list[tuple[float, Callable[[], None]]], timeout_s: float = 1800) -> dict:
        """Poll the batch (through every outage), doing each event once its share of lines is done."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with self._http() as http:
                    answer = http.get(f"/batches/{batch_id}")
            except httpx.TransportError:  # the API down, or restarting
                time.sleep(0.5)
                continue
            if answer.status_code != 200:  # Redis down: 503
                time.sleep(0.5)
                continue
            batch = answer.json()
            counts = batch["request_counts"]
            done = (counts["completed"] + counts["failed"]) / self.lines
            while events and done >= events[0][0]:
                _, event = events.pop(0)
                self.report.events.append(f"{event.__name__.strip('_')} at {done:.0%}")
                event()
            if batch["status"] in ENDED:
                return dict(batch)
            time.sleep(0.3)
        raise TimeoutError(f"batch {batch_id} did not end in {timeout_s} s")

    def _kill_worker(self) -> None:
        self.worker.signal(signal.SIGKILL)
        self.worker.popen.wait(10)
        self.worker = self.stack.start_worker("llm", wait=180)

    def _kill_api(self) -> None:
        port = int(self.api.rsplit(":", 1)[1])
        proc = next(p for p in self.stack.procs if p.name == f"api-{port}" and p.popen.poll() is None)
        proc.signal(signal.SIGKILL)
        proc.popen.wait(10)
        self.api = self.stack.start_api(port=port, domain="llm")

    def _restart_redis(self) -> None:
        proc: Proc = next(p for p in self.stack.procs if p.name.startswith("redis-") and p.popen.poll() is None)
        time.sleep(1.1)  # the append-only file is synced every second
        proc.signal(signal.SIGKILL)
        proc.popen.wait(10)
        time.sleep(3)
        self.stack.start_redis(port=self.redis_port, persist=True)

    def _account(self, batch: dict) -> None:
        report = self.report
        report.status, report.counts = batch["status"], dict(batch["request_counts"])
        seen: Counter[str] = Counter()
        with self._http() as http:
            for which in ("output_file_id", "error_file_id"):
                if not batch.get(which):
                    continue
                lines = http.get(f"/files/{batch[which]}/content").content.splitlines()
                for raw in lines:
                    line = json.loads(raw)
                    seen[line["custom_id"]] += 1
                    if which == "error_file_id":
                        error = line.get("error") or (line["response"]["body"].get("error") or {})
                        report.errors[error.get("code") or "?"] += 1
                if which == "output_file_id":
                    report.in_output = len(lines)
                else:
                    report.in_error_file = len(lines)
        report.missing = [f"line-{i}" for i in range(self.lines) if f"line-{i}" not in seen]
        report.twice = sorted(custom_id for custom_id, n in seen.items() if n > 1)
