"""The reconciler's leadership (one lock in Redis): one process acts at a time, however the
lock's expiry falls between the commands a contender sends."""

from collections.abc import Callable
from typing import Any

import pytest
import redis

from common import keys
from common.config import CoreSettings
from common.reconciler import Reconciler


class Interleaved(redis.Redis):
    """A client that calls ``before(n)`` before sending its n-th command: where another
    process's steps can fall between two of this one's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent = 0
        self.before: Callable[[int], None] = lambda n: None

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.before(self.sent)
        self.sent += 1
        return super().execute_command(*args, **options)


def _reconciler(client: redis.Redis) -> Reconciler:
    return Reconciler(client, None, CoreSettings())  # type: ignore[arg-type]  # leading sends no message


@pytest.fixture
def url(isolated_stack) -> str:
    return isolated_stack.redis_url


@pytest.mark.parametrize("a_held_it", [True, False], ids=["extending", "taking"])
def test_two_reconcilers_never_both_lead_when_the_lock_runs_out_between_two_commands(url, a_held_it):
    a, b = _reconciler(Interleaved.from_url(url)), _reconciler(redis.Redis.from_url(url))
    lock = redis.Redis.from_url(url, decode_responses=True)
    a._lead()  # loads its script, so each pass below sends only what leading sends
    lock.delete(keys.RECONCILER_LOCK)
    if a_held_it:
        a._lead()
    start = a.client.sent
    a._lead()
    steps = a.client.sent - start
    # Before each command ``a`` sends to lead, in turn: the lock runs out (deleted, as its
    # expiry would) and ``b`` leads. Then ``a`` must not: ``b`` acts in this pass.
    for step in range(steps):
        lock.delete(keys.RECONCILER_LOCK)
        if a_held_it:
            assert a._lead()
        b_led: list[bool] = []

        def b_steps_in(n: int, at: int = a.client.sent + step, b_led: list[bool] = b_led) -> None:
            if n == at:
                lock.delete(keys.RECONCILER_LOCK)
                b_led.append(b._lead())

        a.client.before = b_steps_in
        a_led = a._lead()
        a.client.before = lambda n: None
        assert b_led == [True]
        assert not a_led, f"both lead: the lock ran out before command {step + 1} of {steps} that leading sends"
        assert lock.get(keys.RECONCILER_LOCK) == b.name


def test_the_holder_extends_its_lock_and_another_neither_takes_nor_extends_it(url):
    a, b = _reconciler(redis.Redis.from_url(url)), _reconciler(redis.Redis.from_url(url))
    lock = redis.Redis.from_url(url, decode_responses=True)
    ttl_ms = int(CoreSettings().reconcile_interval_s * 3000)
    assert a._lead() and lock.get(keys.RECONCILER_LOCK) == a.name
    lock.pexpire(keys.RECONCILER_LOCK, 1000)
    assert not b._lead()
    assert 0 < lock.pttl(keys.RECONCILER_LOCK) <= 1000  # b did not extend a's lock
    assert a._lead()
    assert 1000 < lock.pttl(keys.RECONCILER_LOCK) <= ttl_ms
    lock.delete(keys.RECONCILER_LOCK)
    assert b._lead() and not a._lead() and lock.get(keys.RECONCILER_LOCK) == b.name
