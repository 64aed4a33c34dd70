"""A batch file checked before any of its lines runs, as OpenAI checks one (``validating``):
each line parsed, its ``custom_id`` used once, its body one its endpoint's route would take."""

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from api.openai.batches.endpoints import Endpoint, LineRefused
from api.openai.batches.lines import LineProblem, Lines, parse_line

MAX_ERRORS = 100  # a file's bad lines reported in ``errors`` (OpenAI's own list is short too)
RENEW_EVERY = 2000  # lines checked between two calls of ``still_mine`` (the runner's lock renewed)


@dataclass
class Checked:
    requests: int = 0  # the lines that are requests (blank lines are none)
    lines: int = 0  # the file's lines, the blank ones too: where the feed ends
    problems: list[LineProblem] = field(default_factory=list)  # the first MAX_ERRORS
    bad_lines: int = 0


async def check_file(
    lines: Lines, url: str, endpoint: Endpoint, still_mine: Callable[[], Awaitable[object]]
) -> Checked:
    """Every line of the file checked, the file read once, a range at a time."""
    checked, seen = Checked(), set[bytes]()
    async for number, _, raw in lines.all():
        checked.lines = number
        if number % RENEW_EVERY == 0:
            await still_mine()
        try:
            line = parse_line(raw, url)
            if line is None:
                continue
            digest = hashlib.sha256(line.custom_id.encode()).digest()
            if digest in seen:
                raise LineProblem("duplicate_custom_id", f"custom_id {line.custom_id!r} is used on an earlier line")
            seen.add(digest)
            endpoint.check(line.body)
            checked.requests += 1
        except LineRefused as exc:
            _note(checked, LineProblem("invalid_request", exc.message, exc.param).at(number))
        except LineProblem as problem:
            _note(checked, problem.at(number))
    if not checked.bad_lines and not checked.requests:
        _note(checked, LineProblem("empty_file", "the input file holds no requests").at(None))
    return checked


def _note(checked: Checked, problem: LineProblem) -> None:
    checked.bad_lines += 1
    if len(checked.problems) < MAX_ERRORS:
        checked.problems.append(problem)
