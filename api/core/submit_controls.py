"""What a submit may ask in its headers: ``Idempotency-Key``, ``Cancel-After`` and ``Priority``.

Declared as header parameters with their patterns, so ``/docs`` shows them on every submit
route and the OpenAPI document states exactly what is refused (``422 invalid_header``).
"""

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header

from common.fair import Priority

MAX_IDEMPOTENCY_KEY_CHARS = 255
# Visible ASCII, spaces inside: HTTP strips a header value's outer whitespace, so a key with
# some there would not arrive as it was sent.
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]([ -~]*[!-~])?$"
# A deadline further out than a job's record lives is no deadline.
MAX_CANCEL_AFTER_S = 7 * 24 * 3600
MAX_CANCEL_AFTER_CHARS = 32
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "": 1.0}


def _whole_up_to(top: int) -> str:
    """A regex of the whole numbers 1 to ``top`` (``top`` >= 1), without leading zeros."""
    digits = str(top)
    width = len(digits)
    shorter = [f"[1-9][0-9]{{0,{width - 2}}}"] if width > 1 else []
    # As many digits as top: its first i digits, then a smaller one, then any.
    same = [
        digits[:i] + f"[{1 if i == 0 else 0}-{int(d) - 1}]" + (f"[0-9]{{{width - i - 1}}}" if i < width - 1 else "")
        for i, d in enumerate(digits)
        if int(d) - 1 >= (1 if i == 0 else 0)
    ]
    return "|".join([*shorter, *same, digits])


def _positive_up_to(top: int) -> str:
    """A regex of the decimal numbers over 0 and at most ``top`` (a whole number >= 2), with
    leading zeros and a fraction allowed: ``\\d+(\\.\\d+)?`` in that range."""
    return (
        f"0*(?:{_whole_up_to(top - 1)})(?:\\.[0-9]+)?"  # 1 to top, top excluded, any fraction
        f"|0*{top}(?:\\.0+)?"  # top itself
        "|0+\\.[0-9]*[1-9][0-9]*"  # under 1
    )


def _cancel_after_pattern() -> str:
    units = {"ms": "ms", "s": "s?", "m": "m", "h": "h"}  # seconds: with their unit or without
    numbers = [f"(?:{_positive_up_to(round(MAX_CANCEL_AFTER_S / _UNIT_S[u]))}){units[u]}" for u in units]
    return f"^(?:{'|'.join(numbers)})$"


# A duration over 0 and at most MAX_CANCEL_AFTER_S: ``30s``, ``5m``, ``1h``, ``250ms`` or
# seconds. The range is in the pattern, so the document states it too.
CANCEL_AFTER_PATTERN = _cancel_after_pattern()
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?")


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
    number, unit = match.group(1), match.group(2) or ""
    # Milliseconds divided, not multiplied by 0.001 (inexact): the longest stays within the cap.
    return float(number) / 1000 if unit == "ms" else float(number) * _UNIT_S[unit]


async def submit_controls(
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=MAX_IDEMPOTENCY_KEY_CHARS,
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="Retry-safe submits: the same key, key owner and body within 24 h answer the "
            "same job (no second one); the same key with another body is a 409 `idempotency_conflict`.",
        ),
    ] = None,
    cancel_after: Annotated[
        str | None,
        Header(
            max_length=MAX_CANCEL_AFTER_CHARS,
            pattern=CANCEL_AFTER_PATTERN,
            description="A deadline: `30s`, `5m`, `1h`, `250ms` or seconds, over 0 and at most 7 days. A job "
            "not started by then never runs, and one still running then is stopped; either ends `expired`.",
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
    return SubmitControls(idempotency_key, 0.0 if cancel_after is None else parse_duration(cancel_after), priority)


SubmitControlsDep = Annotated[SubmitControls, Depends(submit_controls)]
