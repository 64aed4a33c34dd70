"""The API key cache (api/core/auth.py) over a fake script runner: a unit test of its bound and
its expiry; the real key checks run in tests/api/test_access.py."""

import asyncio
from collections import Counter
from datetime import UTC, datetime

from api.core import auth
from common import apikeys, keys
from common.apikeys import KeyRecord
from common.scripts import Call

VALID = "dq_valid"


class FakeKeys:
    """Answers key lookups from ``stored`` (secret hash -> record) and counts them per hash."""

    def __init__(self) -> None:
        record = KeyRecord(id="key_1", name="ci", role="user", created_at=datetime.now(UTC))
        self.stored = {apikeys.secret_hash(VALID): record}
        self.asked: Counter[str] = Counter()

    async def run(self, call: Call) -> KeyRecord | None:
        digest = call.keys[0].removeprefix(keys.apikey(""))
        self.asked[digest] += 1
        return self.stored.get(digest)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_flood_of_unknown_keys_evicts_one_entry_at_a_time_and_spares_a_key_in_use():
    fake = FakeKeys()
    cache = auth.KeyCache(fake, Clock())  # type: ignore[arg-type]  # still: no entry expires here

    async def flood() -> None:
        assert await cache.lookup(VALID) is not None
        assert await cache.lookup("dq_idle") is None  # looked up once, then never again
        for i in range(3 * auth._CACHE_MAX):
            assert await cache.lookup(f"dq_unknown_{i}") is None
            if i % 100 == 0:
                assert (await cache.lookup(VALID)).id == "key_1"

    asyncio.run(flood())
    assert fake.asked[apikeys.secret_hash(VALID)] == 1  # never dropped: always recently used
    assert len(cache._entries) == auth._CACHE_MAX
    # The most recent unknown keys are all still there, the oldest gone, the idle one too.
    recent = [apikeys.secret_hash(f"dq_unknown_{i}") for i in range(2 * auth._CACHE_MAX + 1, 3 * auth._CACHE_MAX)]
    assert all(digest in cache._entries for digest in recent)
    assert apikeys.secret_hash("dq_idle") not in cache._entries
    assert apikeys.secret_hash("dq_unknown_0") not in cache._entries


def test_a_revoked_key_stops_working_once_its_entry_is_older_than_the_cache_time():
    fake, clock = FakeKeys(), Clock()
    cache = auth.KeyCache(fake, clock)  # type: ignore[arg-type]

    async def scenario() -> list[bool]:
        seen = [await cache.lookup(VALID) is not None]
        fake.stored.clear()  # revoked
        clock.now += auth.KEY_CACHE_S * 0.9
        seen.append(await cache.lookup(VALID) is not None)  # still cached
        clock.now += auth.KEY_CACHE_S * 0.2
        seen.append(await cache.lookup(VALID) is not None)
        return seen

    assert asyncio.run(scenario()) == [True, True, False]
    assert fake.asked[apikeys.secret_hash(VALID)] == 2
