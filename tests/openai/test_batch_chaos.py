"""A short batch chaos run in the default suite: a batch's llm worker SIGKILLed, its API
SIGKILLed and Redis killed and restarted while it runs; every line is in the output or error
file exactly once and the counts match (devtools/batch_chaos.py; ``scripts/batch_chaos.py`` is
the long run whose rows are in docs/reliability.md)."""

import pytest

from devtools.batch_chaos import BatchChaos


@pytest.mark.slow
def test_a_batch_survives_a_worker_an_api_and_redis_dying_with_every_line_once(tmp_path):
    report = BatchChaos(tmp_path, lines=300).run()
    assert len(report.events) == 3, report.events
    assert report.status == "completed", report.rows()
    assert report.missing == [] and report.twice == [], report.rows()
    assert report.counts_right, report.rows()
    assert report.in_output == 300, report.rows()  # nothing failed: every death was recovered
