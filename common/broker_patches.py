"""One fix to kombu's Redis transport, applied by ``make_celery`` in every process.

When the broker connection drops, Celery closes it (``on_connection_error_after_connected``)
and closing a channel restores its unacknowledged messages, for which kombu makes a Redis
client from the channel's connection; that connection is released by then (its ``client`` is
``None``), so kombu raises ``AttributeError: 'NoneType' object has no attribute 'hostname'``.
Celery counts only connection errors as an outage: anything else is "Unrecoverable error" and
the worker exits. The chaos run saw it: the llm worker ended when Redis was killed (kombu
#970 and #582 report the same path). Raising Redis's own ``ConnectionError`` there makes it an
outage like any other: Celery ignores it while closing and reconnects, and what was not
restored is published again by the reconciler.
"""

from typing import Any

import redis
from kombu.transport import redis as kombu_redis

_original = kombu_redis.Channel._connparams


def _connparams(self: Any, asynchronous: bool = False) -> Any:
    if self.connection.client is None:
        raise redis.ConnectionError("the broker connection is closed (the channel outlived it)")
    return _original(self, asynchronous=asynchronous)


def apply() -> None:
    """Install the fix (idempotent)."""
    kombu_redis.Channel._connparams = _connparams  # type: ignore[method-assign]
