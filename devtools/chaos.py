"""A chaos run: thousands of jobs across both domains (and extractions, jobs of two stages:
OCR, then the llm) while workers are SIGKILLed, the API is restarted and Redis is killed and
restarted on its append-only file; then an account of every accepted job. ``scripts/chaos.py`` runs it and writes ``docs/reliability.md``; the test suite
runs a short one (``tests/workers/test_chaos.py``).
"""

import itertools
import json
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import redis

from devtools.localstack import LocalStack, Proc
from devtools.tiny_llm import build_tiny_llm

SETTINGS = {
    "JOB_LEASE_S": "6",
    "RECONCILE_INTERVAL_S": "1",
    "DEFAULT_RATE_LIMIT_PER_MINUTE": "0",
    "DEFAULT_MAX_JOBS_IN_FLIGHT": "0",
    "MAX_QUEUE_DEPTH": "0",
    "LOG_LEVEL": "INFO",
    # The queue and its recovery are under test, not the engine: the tiny model on transformers.
    "LLM_ENGINE": "transformers",
}
EXTRACT_SCHEMA = '{"type": "object", "properties": {"word": {"type": "string", "maxLength": 8}}}'
_STARTED = re.compile(r"^(\S+ \S+) INFO workers\.core\.runner job started job_id=(\w+) .*attempt=(\d+)", re.M)
_KEPT = re.compile(r"^\S+ \S+ INFO workers\.core\.runner job (succeeded|failed) job_id=(\w+)", re.M)
_ENDED = re.compile(
    r"^(\S+ \S+) INFO workers\.core\.runner job (?:succeeded|failed|result dropped[^=]*) job_id=(\w+)", re.M
)


@dataclass
class Report:
    accepted: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    ran_twice: list[str] = field(default_factory=list)
    worker_recovery_s: float = 0.0
    # From a worker's SIGKILL until its replacement answered: the floor of its jobs' recovery.
    worker_restart_s: float = 0.0
    redis_recovery_s: float = 0.0
    false_503s: int = 0
    false_503_examples: list[str] = field(default_factory=list)
    # Workers that ended on their own (not killed by the run), restarted as a supervisor would.
    worker_exits: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def rows(self) -> list[tuple[str, str]]:
        reasons = ", ".join(f"{n} {why}" for why, n in self.failures.most_common()) or "none"
        return [
            ("accepted", f"{self.accepted:,}"),
            ("succeeded", f"{self.statuses['succeeded']:,}"),
            ("failed", f"{self.statuses['failed']:,} ({reasons})"),
            ("lost", f"{len(self.lost)}"),
            ("ran twice", f"{len(self.ran_twice)}"),
            ("recovery after worker SIGKILL (s)", f"{self.worker_recovery_s:.1f}"),
            ("replacement worker ready after the SIGKILL (s)", f"{self.worker_restart_s:.1f}"),
            ("recovery after Redis restart (s)", f"{self.redis_recovery_s:.1f}"),
            ("false 503s", f"{self.false_503s}"),
        ]


class Chaos:
    def __init__(self, workdir: Path, jobs: int, concurrency: int = 16, short: bool = False) -> None:
        """``short``: one worker SIGKILL and one Redis restart (the test suite's run)."""
        self.workdir, self.jobs, self.concurrency, self.short = workdir, jobs, concurrency, short
        self.stack = LocalStack(workdir, env=dict(SETTINGS))
        self.ids: list[str] = []
        self.kills: list[tuple[float, Proc]] = []  # (when, the worker killed)
        self.restarts: list[float] = []  # seconds from each kill to its replacement answering
        self.redis_down: tuple[float, float] | None = None
        # (sent, answered, the error's code and message, the request id the API logged it under)
        self.answers_503: list[tuple[float, float, str, str]] = []
        self._lock = threading.Lock()
        self._workers_lock = threading.Lock()  # the run's kills and the supervisor's restarts
        self._done = threading.Event()
        self.worker_exits: list[str] = []
        self.api = ""
        self.keys: list[dict[str, str]] = []

    def run(self) -> Report:
        started = time.monotonic()
        with self.stack:
            self.stack.start_redis(persist=True)
            self.port = int(self.stack.redis_url.rsplit(":", 1)[1].split("/")[0])
            self.stack.env["LLM_MODEL"] = str(build_tiny_llm(self.workdir / "tiny-llm"))
            self.api = self.stack.start_api(domain="all")
            # Two keys of different weights share the domains (fair share), as tenants would.
            self.keys = [self._key("heavy", 2), self._key("light", 1)]
            self.workers = {d: self._worker(d) for d in ("ocr", "llm")}
            supervisor = threading.Thread(target=self._supervise, name="chaos-supervisor", daemon=True)
            supervisor.start()
            try:
                self._submit_all_with_chaos()
                report = self._account()
            finally:
                self._done.set()
                supervisor.join(30)
            report.worker_exits = list(self.worker_exits)
        report.seconds = time.monotonic() - started
        return report

    def _key(self, name: str, weight: float) -> dict[str, str]:
        answer = httpx.post(
            f"{self.api}/v1/keys", json={"name": name, "weight": weight}, headers=self.stack.auth_headers, timeout=30
        )
        answer.raise_for_status()
        return {"Authorization": f"Bearer {answer.json()['key']}"}

    def _worker(self, domain: str) -> Proc:
        return self.stack.start_worker(domain, wait=180)

    def _submit_all_with_chaos(self) -> None:
        events: list[tuple[float, Callable[[], None]]] = [
            (0.15, lambda: self._kill_worker("ocr")),
            (0.30, lambda: self._kill_worker("llm")),
            (0.45, self._restart_api),
            (0.60, self._restart_redis),
            (0.75, lambda: self._kill_worker("ocr")),
            (0.90, lambda: self._kill_worker("llm")),
        ]
        if self.short:
            events = [(0.2, lambda: self._kill_worker("ocr")), (0.5, self._restart_redis)]
        image = _tiny_png()
        with ThreadPoolExecutor(self.concurrency) as pool:
            futures = [pool.submit(self._submit_one, i, image) for i in range(self.jobs)]
            for index, future in enumerate(futures):
                future.result()
                while events and index >= events[0][0] * self.jobs:
                    events.pop(0)[1]()

    def _submit_one(self, i: int, image: bytes) -> None:
        kind = 3 if i % 20 == 19 else i % 3  # every 20th an extraction: two stages, OCR then the llm
        for _ in range(600):  # a client that retries what the API asks it to retry
            sent = time.monotonic()
            try:
                with httpx.Client(base_url=self.api, timeout=30, headers=self.keys[i % 2]) as client:
                    if kind == 0:
                        answer = client.post("/v1/ocr/recognize", files={"file": ("p.png", image)})
                    elif kind == 1:
                        answer = client.post("/v1/llm/embed", json={"texts": [f"sentence {i}"]})
                    elif kind == 2:
                        answer = client.post("/v1/llm/generate", json={"prompt": f"job {i}", "max_new_tokens": 8})
                    else:
                        answer = client.post(
                            "/v1/extract",
                            files={"file": ("p.png", image)},
                            data={"schema": EXTRACT_SCHEMA, "max_new_tokens": "12"},
                        )
            except httpx.TransportError:  # the API restarting
                time.sleep(0.2)
                continue
            if answer.status_code == 202:
                with self._lock:
                    self.ids.append(answer.json()["id"])
                return
            if answer.status_code == 503:
                error = answer.json().get("error", {})
                why = f"{error.get('code')}: {error.get('message')}"
                with self._lock:
                    self.answers_503.append((sent, time.monotonic(), why, answer.headers.get("x-request-id", "-")))
            time.sleep(0.2)
        raise RuntimeError(f"job {i} was never accepted")

    def _kill_worker(self, domain: str) -> None:
        with self._workers_lock:
            proc = self.workers[domain]
            proc.signal(signal.SIGKILL)
            proc.popen.wait(10)
            killed_at = time.time()
            self.kills.append((killed_at, proc))
            self.workers[domain] = self._worker(domain)
            self.restarts.append(time.time() - killed_at)

    def _supervise(self) -> None:
        """Restart a worker that ends on its own, as compose's restart policy would, and say so:
        the run goes on, and the report names every such exit."""
        while not self._done.wait(0.5):
            with self._workers_lock:
                for domain, proc in list(self.workers.items()):
                    code = proc.popen.poll()
                    if code is None:
                        continue
                    self.worker_exits.append(f"{proc.node} exited with code {code} (see {proc.log_path.name})")
                    self.workers[domain] = self._worker(domain)

    def _restart_api(self) -> None:
        port = int(self.api.rsplit(":", 1)[1])
        proc = next(p for p in self.stack.procs if p.name == f"api-{port}" and p.popen.poll() is None)
        proc.stop()
        self.api = self.stack.start_api(port=port, domain="all")

    def _restart_redis(self) -> None:
        proc = next(p for p in self.stack.procs if p.name.startswith("redis-") and p.popen.poll() is None)
        time.sleep(1.1)  # the append-only file is synced every second
        down = time.monotonic()
        proc.signal(signal.SIGKILL)
        proc.popen.wait(10)
        time.sleep(5)
        self.stack.start_redis(port=self.port, persist=True)
        self.redis_down = (down, time.monotonic())
        self.redis_back_wall = time.time()

    def _account(self, timeout_s: float = 900) -> Report:
        report = Report(accepted=len(self.ids))
        client = redis.Redis.from_url(self.stack.redis_url, decode_responses=True)
        deadline = time.monotonic() + timeout_s
        pending = set(self.ids)
        while pending and time.monotonic() < deadline:
            with client.pipeline(transaction=False) as pipe:
                for job_id in pending:
                    pipe.hget(f"dq:job:{job_id}", "status")
                statuses = pipe.execute()
            pending = {
                j for j, s in zip(list(pending), statuses, strict=True) if s not in ("succeeded", "failed", "canceled")
            }
            time.sleep(1)
        report.lost = sorted(pending)
        with client.pipeline(transaction=False) as pipe:
            for job_id in self.ids:
                pipe.hmget(f"dq:job:{job_id}", "status", "error")
            for status, error in pipe.execute():
                report.statuses[status or "missing"] += 1
                if status == "failed":
                    report.failures[_error_type(error)] += 1
        self._runs(report)
        if self.redis_down is not None:
            up = self.redis_down[1]
            false = [answer for answer in self.answers_503 if not (self.redis_down[0] <= answer[1] <= up + 3)]
            report.false_503s = len(false)
            report.false_503_examples = [
                f"{why} (sent {sent - up:+.1f} s, answered {answered - up:+.1f} s after Redis was back; request {rid})"
                for sent, answered, why, rid in false[:10]
            ]
        return report

    def _runs(self, report: Report) -> None:
        """Runs per job from every worker's log (start, end, the process); recovery times.

        A job "ran twice" when a second run started while an earlier one was alive (it had not
        ended and its worker had not been killed), or when two runs' results were both kept.
        """
        runs: dict[str, list[tuple[float, float, str]]] = {}  # job -> (start, end, process)
        kept: Counter[str] = Counter()
        for proc in self.stack.procs:
            if not proc.name.startswith("worker-"):
                continue
            log = proc.log()
            ends: dict[str, list[float]] = {}
            for when, job_id in _ENDED.findall(log):
                ends.setdefault(job_id, []).append(_epoch(when))
            for when, job_id, _attempt in _STARTED.findall(log):
                start = _epoch(when)
                end = next((e for e in sorted(ends.get(job_id, [])) if e >= start), float("inf"))
                runs.setdefault(job_id, []).append((start, end, proc.name))
            kept.update(job_id for _outcome, job_id in _KEPT.findall(log))
        killed = {proc.name: when for when, proc in self.kills}
        recovery = 0.0
        for job_id, job_runs in runs.items():
            job_runs.sort()
            for (_, first_end, first_proc), (second_at, _, _) in itertools.pairwise(job_runs):
                died = killed.get(first_proc, float("inf"))
                alive_until = min(first_end, died)
                if second_at < alive_until:
                    report.ran_twice.append(job_id)
                elif died <= second_at and first_end == float("inf"):
                    recovery = max(recovery, second_at - died)
            if kept[job_id] > 1:
                report.ran_twice.append(job_id)
        report.ran_twice = sorted(set(report.ran_twice))
        report.worker_recovery_s = recovery
        report.worker_restart_s = max(self.restarts, default=0.0)
        if self.redis_down is not None:
            after = [start for job_runs in runs.values() for start, _, _ in job_runs if start > self.redis_back_wall]
            report.redis_recovery_s = (min(after) - self.redis_back_wall) if after else float("nan")


def _error_type(error: str | None) -> str:
    return json.loads(error).get("type", "?") if error else "?"


def _epoch(stamp: str) -> float:
    """A log line's local time stamp (``2026-11-30 18:21:18,123``) as epoch seconds."""
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def _tiny_png() -> bytes:
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (160, 60), "white")
    ImageDraw.Draw(image).text((10, 20), "Chaos 42", fill="black")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
