"""A short chaos run in the default suite: a few hundred jobs while a worker is SIGKILLed and
Redis is killed and restarted; no accepted job is lost, none runs twice (devtools/chaos.py;
``scripts/chaos.py`` is the long run that writes docs/reliability.md)."""

import pytest

from devtools.chaos import Chaos


@pytest.mark.slow
def test_a_short_chaos_run_loses_nothing_and_runs_nothing_twice(tmp_path):
    report = Chaos(tmp_path, jobs=240, concurrency=8, short=True).run()
    assert report.accepted == 240
    assert report.lost == [] and report.ran_twice == []
    assert report.statuses["succeeded"] == 240, report.rows()
    assert report.false_503s == 0
    assert report.worker_recovery_s <= 30
    assert report.worker_exits == []  # no worker ended on its own (e.g. on the Redis restart)
