"""Micro-batching: jobs that wait on one worker at the same time run as one model call.

Each job's thread (the worker's pool threads) submits its item and blocks; one model thread
takes the first waiting item, gathers more for up to ``wait_s`` or until ``max_batch``, runs
them together and hands each thread its own result.

No wait is unbounded: a job whose deadline passes before its batch starts leaves the queue
(``JobTimeLimitExceeded``), and the model thread ending for any reason calls ``on_death`` (by
default the worker exits non-zero: every later job would wait for it forever).
"""

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Generic, TypeVar

from workers.core import fatal
from workers.core.jobs import JobTimeLimitExceeded

Item = TypeVar("Item")
Result = TypeVar("Result")

# How often a waiting job looks at the model thread and its own deadline.
_POLL_S = 0.5


class BatcherDied(RuntimeError):
    """The model thread is gone: nothing will run this item."""


class MicroBatcher(Generic[Item, Result]):
    def __init__(
        self,
        run_batch: Callable[[list[Item]], list[Result | Exception]],
        max_batch: int,
        wait_s: float,
        on_death: Callable[[str], object] = fatal.exit_worker,
    ) -> None:
        self.run_batch = run_batch
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.on_death = on_death
        self._queue: queue.Queue[tuple[Item, Future[Result]]] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="micro-batcher", daemon=True)
        self._thread.start()

    def submit(self, item: Item, deadline: float | None = None) -> Result:
        """Run ``item`` in the next batch; blocks until its result (or raises its error).

        ``deadline`` (``time.monotonic()``): past it, an item whose batch has not started is
        dropped with ``JobTimeLimitExceeded``; a started one is stopped by the model call itself.
        """
        future: Future[Result] = Future()
        self._queue.put((item, future))
        while True:
            try:
                return future.result(timeout=_POLL_S)
            except FutureTimeout:
                pass
            if not self._thread.is_alive():
                self.on_death("the micro-batcher thread died")
                raise BatcherDied("the micro-batcher thread died")
            if deadline is not None and time.monotonic() >= deadline and future.cancel():
                raise JobTimeLimitExceeded()

    def _gather(self) -> list[tuple[Item, Future[Result]]]:
        batch = [self._queue.get()]
        until = time.monotonic() + self.wait_s
        while len(batch) < self.max_batch:
            remaining = until - time.monotonic()
            try:
                # Past the wait, still take what is already queued: it costs no waiting.
                batch.append(self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait())
            except queue.Empty:
                break
        # Items whose job gave up waiting (its deadline) are not run.
        return [(item, future) for item, future in batch if future.set_running_or_notify_cancel()]

    def _serve(self) -> None:
        try:
            while True:
                batch = self._gather()
                if batch:
                    self._run(batch)
        finally:  # only a BaseException (or a bug) gets here: the thread is ending
            self.on_death("the micro-batcher thread ended")

    def _run(self, batch: list[tuple[Item, Future[Result]]]) -> None:
        try:
            results = self.run_batch([item for item, _ in batch])
        except Exception as exc:  # the whole call failed: every job in it fails, the thread goes on
            results = [exc] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
