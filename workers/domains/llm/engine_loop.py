"""An asyncio event loop on a thread of its own, for an async engine (vLLM's ``AsyncLLM``) that
the worker's pool threads feed; supervised, so no pool thread waits on it forever.

The thread ending for any reason (an error escaping the loop, a bug) hands over to
``on_death``, by default ``workers.core.fatal.exit_worker``: nothing would run the engine's
requests any more. A pool thread waiting on the loop waits in short steps and checks the
thread between them (``result``, ``check``).
"""

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from workers.core import fatal

T = TypeVar("T")


class LoopDied(RuntimeError):
    """The engine's event-loop thread is gone: nothing will run what was handed to it."""


class EngineLoop:
    def __init__(self, name: str, on_death: Callable[[str], object] = fatal.exit_worker) -> None:
        self.name, self.on_death = name, on_death
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self.loop.run_forever()
        finally:  # only an error (or a bug) ends it: nobody stops this loop
            self.on_death(f"the {self.name} thread ended")

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> "concurrent.futures.Future[T]":
        """Run ``coroutine`` on the loop; its future, for a pool thread to wait on."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def check(self) -> None:
        """Hand over to ``on_death`` (then raise ``LoopDied``) if the loop's thread has ended."""
        if not self._thread.is_alive():
            self.on_death(f"the {self.name} thread died")
            raise LoopDied(f"the {self.name} thread died")

    def result(self, future: "concurrent.futures.Future[T]", poll_s: float = 1.0) -> T:
        """``future.result()``, waiting no longer than the loop's thread lives."""
        while True:
            try:
                return future.result(timeout=poll_s)
            except concurrent.futures.TimeoutError:
                self.check()
