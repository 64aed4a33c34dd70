"""``domainq ocr``: many files through OCR with bounded concurrency, a live progress bar,
a resumable JSONL log, and Ctrl-C that cancels what it started."""

import contextlib
import dataclasses
import json
import signal
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from domainq_client._common import DocumentOptions
from domainq_client._errors import APIError, DomainqError, JobError, UnreachableError
from domainq_client._models import DocumentResult
from domainq_client._sync import Client, Job

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".pdf"}  # images, documents
# A thread's long-poll asks this long at most, so it sees a stop within this time even if no
# change of its job wakes it (a cancel that could not be sent, a server that missed the wake).
STOP_CHECK_S = 2.0


def expand(paths: Iterable[str]) -> list[Path]:
    """Files as given, and the images under each directory (sorted, recursively)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or directory: {raw}")
    return found


def already_done(out: Path | None) -> set[str]:
    """Files a previous run with this ``--out`` finished successfully: a re-run skips them."""
    if out is None or not out.exists():
        return set()
    done = set()
    for line in out.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut short by a killed run
        if entry.get("status") == "succeeded":
            done.add(entry["file"])
    return done


@dataclass
class BatchState:
    """What the run has done so far; shared by the worker threads under ``lock``."""

    ok: int = 0
    failed: int = 0
    pages_done: int = 0  # pages of documents that finished
    in_flight: dict[str, Job] = field(default_factory=dict)
    canceled: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    interrupted: threading.Event = field(default_factory=threading.Event)  # Ctrl-C came
    lock: threading.Lock = field(default_factory=threading.Lock)


# The file ``--pdf`` saves for each input: the server's searchable PDF of it.
SEARCHABLE_PDF = "searchable.pdf"


class OcrBatch:
    def __init__(
        self, client: Client, sink: TextIO, text: bool, out: TextIO | None, pdf_dir: Path | None = None
    ) -> None:
        self.client, self.sink, self.text, self.out = client, sink, text, out
        self.pdf_dir = pdf_dir  # where each file's searchable PDF goes (``--pdf``)
        self.state = BatchState()
        self.bar: Progress | None = None

    def _record(self, entry: dict[str, Any], text: str | None) -> None:
        line = json.dumps(entry, ensure_ascii=False)
        with self.state.lock:
            if self.out is not None:
                self.out.write(line + "\n")
                self.out.flush()
            if self.text:
                shown = text if text is not None else f"[{entry['status']}] {entry.get('error', '')}"
                self.sink.write(f"==> {entry['file']} <==\n{shown}\n")
            elif self.out is None:
                self.sink.write(line + "\n")
            self.sink.flush()
            if entry["status"] == "succeeded":
                self.state.ok += 1
            else:
                self.state.failed += 1

    def _one(self, path: Path) -> None:
        if self.state.stop.is_set():
            return
        name = str(path)
        try:
            as_pdf = DocumentOptions(output="pdf") if self.pdf_dir is not None else None
            job = self.client.ocr.recognize(path, document=as_pdf)
        except (UnreachableError, APIError) as exc:
            if isinstance(exc, UnreachableError) or exc.status in (401, 403):
                self.state.stop.set()  # every other file would fail the same way
                raise
            return self._record({"file": name, "id": None, "status": "failed", "error": str(exc)}, None)
        with self.state.lock:
            self.state.in_flight[job.id] = job
            stopping = self.state.stop.is_set()
        if stopping:  # submitted while Ctrl-C's sweep ran: cancel it here
            self._cancel(job)
            return
        try:
            while not job.view.finished:
                if self.state.stop.is_set():
                    return  # Ctrl-C: the main thread cancels what is in flight
                job.refresh(wait_s=STOP_CHECK_S)
            result = job.wait()
            entry = {"file": name, "id": job.id, "status": "succeeded", "result": _plain(result)}
            if self.pdf_dir is not None:
                saved = self.pdf_dir / f"{path.name}.pdf"
                self.client.jobs.download(job.id, SEARCHABLE_PDF, saved)
                entry["pdf"] = str(saved)
            if isinstance(result, DocumentResult):
                with self.state.lock:
                    self.state.pages_done += len(result.pages)
            self._record(entry, _shown(result))
        except JobError as exc:
            if not self.state.stop.is_set():
                self._record({"file": name, "id": job.id, "status": exc.job.status, "error": str(exc)}, None)
        finally:
            with self.state.lock:
                self.state.in_flight.pop(job.id, None)

    def run(self, files: list[Path], concurrency: int, console: Console) -> None:
        """Every file through OCR; ``KeyboardInterrupt`` propagates after the cancels."""
        columns = (
            TextColumn("[bold]ocr"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "[green]{task.fields[ok]} ok[/] [red]{task.fields[failed]} failed[/] {task.fields[flight]} in flight"
            ),
            TextColumn("{task.fields[pages]}"),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
        )
        self.bar = Progress(*columns, console=console, transient=False)  # public: docs render it
        with self.bar as bar, _ctrl_c_sets(self.state.interrupted):
            task = bar.add_task("ocr", total=len(files), ok=0, failed=0, flight=0, pages="", rate="")
            pool = ThreadPoolExecutor(max_workers=concurrency)
            try:
                futures = [pool.submit(self._one, f) for f in files]
                pending = set(futures)
                while pending and not self.state.interrupted.is_set():
                    _, pending = wait(pending, timeout=0.2)
                    self._show(bar, task)
                if self.state.interrupted.is_set():
                    raise KeyboardInterrupt
                self._show(bar, task)
                for f in futures:
                    f.result()  # an unreachable server or a refused key: raised here
            except KeyboardInterrupt:
                # Before the pool is joined: canceled jobs end their threads' waits.
                self.state.stop.set()
                pool.shutdown(wait=False, cancel_futures=True)  # files not started never are
                self.cancel_unfinished()
                raise
            finally:
                self.state.stop.set()
                pool.shutdown(wait=True, cancel_futures=True)

    def _pages(self) -> str:
        """Pages read so far, finished documents' and those in flight (from their progress)."""
        with self.state.lock:
            jobs = list(self.state.in_flight.values())
            done = self.state.pages_done
        running = [j.view.progress for j in jobs if j.task == "document" and j.view.progress]
        done_now = sum(int(p.get("pages_done", 0)) for p in running)
        to_go = sum(int(p.get("pages_total", 0)) for p in running) - done_now
        if not (done + done_now or to_go):
            return ""
        return f"{done + done_now} pages" + (f", {to_go} to go" if to_go else "")

    def _show(self, bar: Progress, task: Any) -> None:
        s = self.state
        speed = bar.tasks[0].speed
        rate = f"{speed:.1f} files/s" if speed else ""
        done = s.ok + s.failed
        bar.update(
            task, completed=done, ok=s.ok, failed=s.failed, flight=len(s.in_flight), pages=self._pages(), rate=rate
        )

    def cancel_unfinished(self) -> None:
        """Cancel the jobs this run submitted that have not finished (``state.canceled``)."""
        with self.state.lock:
            jobs = list(self.state.in_flight.values())
        for job in jobs:
            self._cancel(job)

    def _cancel(self, job: Job) -> None:
        try:
            job.cancel()
        except DomainqError:
            return  # finished meanwhile (409), or the server is gone
        with self.state.lock:
            self.state.canceled.append(job.id)


@contextlib.contextmanager
def _ctrl_c_sets(flag: threading.Event) -> Iterator[None]:
    """While the block runs, Ctrl-C (SIGINT) sets ``flag`` instead of raising
    ``KeyboardInterrupt`` wherever the main thread happens to be: raised at an arbitrary
    point, it could leave a lock of the thread pool's or the progress bar's held, and the
    threads that need it would never end. The run loop checks the flag every 0.2 s."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread; elsewhere nothing to change
        return
    previous = signal.signal(signal.SIGINT, lambda *_: flag.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _shown(result: Any) -> str:
    """What ``--text`` prints of a result: an image's text, a document's pages with their numbers."""
    if not isinstance(result, DocumentResult):
        return str(result.text)
    return "\n".join(
        f"--- page {page.index} ---\n" + (f"[failed] {page.error.message}" if page.error else page.text or "")
        for page in result.pages
    )


def _plain(value: Any) -> Any:
    """A result dataclass as JSON-ready data."""
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) and not isinstance(value, type) else value
