"""The registry of workers online (common.presence's scripts on a real Redis): counts and slots
by domain, a silent worker counted offline, a worker that shuts down gone at once."""

import redis

from common import keys, presence
from common.presence import Capacity
from common.scripts import SyncScripts


def _scripts(isolated_stack) -> tuple[SyncScripts, redis.Redis]:
    client = redis.Redis.from_url(isolated_stack.redis_url, decode_responses=True)
    return SyncScripts(client), client


def test_workers_count_with_their_slots_by_domain(isolated_stack):
    scripts, _ = _scripts(isolated_stack)
    scripts.run(presence.seen("ocr@a", "ocr", 1))
    scripts.run(presence.seen("ocr@b", "ocr", 2))
    scripts.run(presence.seen("llm@a", "llm", 65))
    scripts.run(presence.seen("ocr@a", "ocr", 1))  # a second heartbeat counts once
    assert scripts.run(presence.online(15)) == {"ocr": Capacity(2, 3), "llm": Capacity(1, 65)}


def test_a_worker_whose_heartbeats_stopped_is_offline_after_the_setting(isolated_stack):
    scripts, client = _scripts(isolated_stack)
    scripts.run(presence.seen("ocr@a", "ocr", 1))
    scripts.run(presence.seen("ocr@old", "ocr", 4))
    seconds, micros = client.time()
    now_ms = int(seconds) * 1000 + int(micros) // 1000
    client.zadd(keys.WORKERS_SEEN, {"ocr@old": now_ms - 10_000})  # its last beat: 10 s ago
    assert scripts.run(presence.online(15)) == {"ocr": Capacity(2, 5)}
    assert scripts.run(presence.online(5)) == {"ocr": Capacity(1, 1)}


def test_a_worker_that_shuts_down_leaves_at_once_and_long_silent_ones_are_forgotten(isolated_stack):
    scripts, client = _scripts(isolated_stack)
    scripts.run(presence.seen("ocr@a", "ocr", 1))
    scripts.run(presence.gone("ocr@a"))
    assert scripts.run(presence.online(15)) == {}
    assert client.hlen(keys.WORKERS_INFO) == 0

    scripts.run(presence.seen("ocr@ancient", "ocr", 1))
    client.zadd(keys.WORKERS_SEEN, {"ocr@ancient": 1})  # silent since 1970
    assert scripts.run(presence.seen("ocr@b", "ocr", 1)) == 1  # the next heartbeat forgets it
    assert client.zrange(keys.WORKERS_SEEN, 0, -1) == ["ocr@b"] and client.hkeys(keys.WORKERS_INFO) == ["ocr@b"]
