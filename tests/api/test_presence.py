"""The workers-online count: a worker that misses a probe (busy host) is not taken off at once."""

from api.core.presence import WorkerPresence


def _presence(offline_after_s: float) -> WorkerPresence:
    return WorkerPresence("redis://127.0.0.1:1/0", timeout_s=0.5, interval_s=1, offline_after_s=offline_after_s)


def test_a_worker_counts_for_each_queue_it_consumes():
    presence = _presence(15)
    answered = {"ocr@a": frozenset({"ocr"}), "ocr@b": frozenset({"ocr"}), "all@c": frozenset({"ocr", "llm"})}
    assert presence._count(answered, now=100) == {"ocr": 3, "llm": 1}


def test_a_worker_that_missed_a_probe_still_counts_until_offline_after_s():
    presence = _presence(15)
    presence._count({"ocr@a": frozenset({"ocr"}), "llm@b": frozenset({"llm"})}, now=100)
    assert presence._count({"llm@b": frozenset({"llm"})}, now=110) == {"ocr": 1, "llm": 1}
    assert presence._count({"llm@b": frozenset({"llm"})}, now=115) == {"ocr": 1, "llm": 1}
    assert presence._count({"llm@b": frozenset({"llm"})}, now=115.1) == {"llm": 1}
    assert presence._count({}, now=200) == {}


def test_offline_after_zero_counts_only_the_last_answers():
    presence = _presence(0)
    presence._count({"ocr@a": frozenset({"ocr"})}, now=100)
    assert presence._count({}, now=100.5) == {}
