"""``Lazy``: a value built once per worker process, on first use, whichever thread asks first.

Engines load this way: after the fork (no CUDA before it), once (one model copy per process),
and the first job waits on the lock while ``warmup`` loads it in the background.

Builds take one process-wide lock, one at a time: two threads importing the same libraries
at once (warmup loading the generator, a first embed job loading the embedder) can each hold
a module lock the other waits on, and Python's deadlock escape then hands one of them a
half-imported module ("cannot import name 'AutoModelForCausalLM' from 'transformers'").
"""

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
# Reentrant: a build may get another Lazy (the batcher builds on the generator).
_BUILDING = threading.RLock()


class Lazy(Generic[T]):
    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None

    def get(self) -> T:
        value = self._value
        if value is not None:
            return value
        with _BUILDING:
            if self._value is None:
                self._value = self._build()
            return self._value
