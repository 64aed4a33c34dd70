"""What a submit may ask in its headers: ``Idempotency-Key``, ``Cancel-After`` and ``Priority``.

Declared as header parameters, so ``/docs`` shows them on every submit route.
"""

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header

from api.core.errors import ApiError
from common.fair import Priority

MAX_IDEMPOTENCY_KEY_CHARS = 255
# A deadline further out than a job's record lives is no deadline.
MAX_CANCEL_AFTER_S = 7 * 24 * 3600
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)?")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


@dataclass(frozen=True)
class SubmitControls:
    idempotency_key: str | None = None
    cancel_after_s: float = 0
    priority: Priority = Priority.interactive


def parse_duration(value: str) -> float:
    """``30s``, ``5m``, ``1h``, ``250ms`` or plain seconds, in seconds; ``ValueError`` otherwise."""
    match = _DURATION.fullmatch(value.strip())
    if not match:
        raise ValueError(value)
    return float(match.group(1)) * _UNIT_S[match.group(2)]


async def submit_controls(
    idempotency_key: Annotated[
        str | None,
        Header(
            description="Retry-safe submits: the same key, key owner and body within 24 h answer the "
            "same job (no second one); the same key with another body is a 409 `idempotency_conflict`.",
        ),
    ] = None,
    cancel_after: Annotated[
        str | None,
        Header(
            description="A deadline: `30s`, `5m`, `1h` or seconds. A job not started by then never runs, "
            "and one still running then is stopped; either ends `expired`.",
        ),
    ] = None,
    priority: Annotated[
        Priority,
        Header(
            description="`interactive` (the default) or `batch`: batch jobs run when no interactive job of "
            "their domain waits for a worker, and in a small share of turns when one does.",
        ),
    ] = Priority.interactive,
) -> SubmitControls:
    if idempotency_key is not None and not (
        0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_CHARS and idempotency_key.isprintable()
    ):
        raise ApiError(
            422, "invalid_header", f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable characters"
        )
    seconds = 0.0
    if cancel_after is not None:
        try:
            seconds = parse_duration(cancel_after)
        except ValueError:
            raise ApiError(
                422, "invalid_header", "Cancel-After must be a duration such as 30s, 5m, 1h or a number of seconds"
            ) from None
        if not 0 < seconds <= MAX_CANCEL_AFTER_S:
            raise ApiError(422, "invalid_header", f"Cancel-After must be over 0 and at most {MAX_CANCEL_AFTER_S} s")
    return SubmitControls(idempotency_key, seconds, priority)


SubmitControlsDep = Annotated[SubmitControls, Depends(submit_controls)]
