"""The submit headers' patterns, as the document states them, against the rules they encode."""

import random
import re
from decimal import Decimal

import pytest

from api.core.submit_controls import CANCEL_AFTER_PATTERN, IDEMPOTENCY_KEY_PATTERN, MAX_CANCEL_AFTER_S, parse_duration

_UNITS = {"ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60), "h": Decimal(3600), "": Decimal(1)}


def _allowed(value: str) -> bool:
    """The rule itself: a duration (digits, a fraction, a unit) over 0 and at most 7 days."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?", value)
    return bool(match) and 0 < Decimal(match.group(1)) * _UNITS[match.group(2) or ""] <= MAX_CANCEL_AFTER_S


def _durations(count: int) -> list[str]:
    """Values around every unit's bound: near-misses in digits, zeros, fractions and units."""
    rng = random.Random(7)
    bounds = ["604800", "604800000", "10080", "168", "604799", "1", "0", ""]
    values = []
    for _ in range(count):
        head = rng.choice(bounds)
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 3)))
        number = rng.choice(["", "0", "00"]) + rng.choice([head, head[:-1] + digits, digits, head + digits[:1]])
        if rng.random() < 0.5:
            number += "." + "".join(rng.choice("0000123456789") for _ in range(rng.randint(0, 4)))
        values.append(number + rng.choice(["", "s", "ms", "m", "h", "d"]))
    return values


EDGES = ["604800", "604800.0", "604800.0001", "604799.9999", "604800000ms", "604800001ms", "10080m", "10081m"]
EDGES += ["168h", "168.5h", "0", "0.0", "0s", "0.0001", "000604800", "1e3", ".5", "5.", "", "30s", "250ms", "1h"]


def test_the_cancel_after_pattern_takes_exactly_the_durations_the_api_allows():
    values = EDGES + _durations(20_000)
    for value in values:
        assert bool(re.search(CANCEL_AFTER_PATTERN, value)) == _allowed(value), value
        if _allowed(value):
            assert 0 < parse_duration(value) <= MAX_CANCEL_AFTER_S, value
    assert 0.2 < sum(map(_allowed, values)) / len(values) < 0.8  # both sides of the bounds were tried


@pytest.mark.parametrize(
    ("key", "taken"),
    [("order-1234", True), ("a b", True), ("~", True), (" a", False), ("a ", False), ("", False), ("é", False)],
)
def test_an_idempotency_key_is_visible_ascii_with_no_outer_space(key, taken):
    assert bool(re.search(IDEMPOTENCY_KEY_PATTERN, key)) == taken
