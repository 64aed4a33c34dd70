"""Micro-batching: jobs that wait on one worker at the same time run as one model call.

Each job's thread (the worker's pool threads) submits its item and blocks; one model thread
takes the first waiting item, gathers more for up to ``wait_s`` or until ``max_batch``, runs
them together and hands each thread its own result.
"""

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class MicroBatcher(Generic[Item, Result]):
    def __init__(self, run_batch: Callable[[list[Item]], list[Result | Exception]], max_batch: int, wait_s: float):
        self.run_batch = run_batch
        self.max_batch = max_batch
        self.wait_s = wait_s
        self._queue: queue.Queue[tuple[Item, Future[Result]]] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="micro-batcher", daemon=True)
        self._thread.start()

    def submit(self, item: Item) -> Result:
        """Run ``item`` in the next batch; blocks until its result (or raises its error)."""
        future: Future[Result] = Future()
        self._queue.put((item, future))
        return future.result()

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
        return batch

    def _serve(self) -> None:
        while True:
            batch = self._gather()
            try:
                results = self.run_batch([item for item, _ in batch])
            except Exception as exc:  # the whole call failed: every job in it fails, the thread goes on
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
