"""A short chaos run in the default suite: a few hundred jobs while a worker is SIGKILLed and
Redis is killed and restarted, two keys of weights 2 and 1 submitting; no accepted job is lost,
none runs twice (devtools/chaos.py;
``scripts/chaos.py`` is the long run that writes docs/reliability.md)."""

import pytest

from common.config import CoreSettings
from devtools.chaos import SETTINGS, Chaos


@pytest.mark.slow
def test_a_short_chaos_run_loses_nothing_and_runs_nothing_twice(tmp_path):
    report = Chaos(tmp_path, jobs=240, concurrency=8, short=True).run()
    assert report.accepted == 240
    assert report.lost == [] and report.ran_twice == []
    assert report.statuses["succeeded"] == 240, report.rows()
    assert report.false_503s == 0
    # A killed worker's job runs again once its lease has run out and the reconciler has seen
    # it (lease + up to two passes), and a worker is there to take it (its replacement, started
    # at the kill): after the later of the two, plus a little for a slot to free. Measured
    # against the run's own restart, not a fixed figure a loaded machine can miss.
    settings = CoreSettings(**{k.lower(): v for k, v in SETTINGS.items()})  # the run's own
    floor = max(settings.job_lease_s + 2 * settings.reconcile_interval_s, report.worker_restart_s)
    assert report.worker_recovery_s <= floor + 15, report.rows()
    assert report.worker_exits == []  # no worker ended on its own (e.g. on the Redis restart)
