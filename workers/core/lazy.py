"""``Lazy``: a value built once per worker process, on first use, whichever thread asks first.

Engines load this way: after the fork (no CUDA before it), once (one model copy per process),
and the first job waits on the lock while ``warmup`` loads it in the background.
"""

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Lazy(Generic[T]):
    def __init__(self, build: Callable[[], T]) -> None:
        self._build, self._lock = build, threading.Lock()
        self._value: T | None = None

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._build()
            return self._value
