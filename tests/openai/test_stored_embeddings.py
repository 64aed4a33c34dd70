"""Reshaping a stored embed result as it streams (``api.domains.llm.openai.embeddings``), and
cutting a job's JSON where a stored result goes (``common.results``): pure, no servers."""

import asyncio
import json
from datetime import UTC, datetime

import pytest

from api.domains.llm.openai.embeddings import vectors
from common import results
from common.contracts.jobs import JobStatus, JobView

STORED = results.encode({"embeddings": [[0.5, -0.25, 1e-07], [], [3.0, 4.5]], "dim": 3, "model": "m"})


async def _chunks(data: bytes, size: int):
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _vectors(data: bytes, size: int) -> list[list[float]]:
    async def collect() -> list[list[float]]:
        return [v async for v in vectors(_chunks(data, size))]

    return asyncio.run(collect())


@pytest.mark.parametrize("size", [1, 2, 7, 16, len(STORED)])
def test_stored_vectors_come_out_one_at_a_time_wherever_the_chunks_cut(size):
    assert _vectors(STORED, size) == [[0.5, -0.25, 1e-07], [], [3.0, 4.5]]


def test_a_stored_result_of_another_shape_or_cut_short_is_an_error():
    with pytest.raises(ValueError, match="begins"):
        _vectors(results.encode({"dim": 3, "embeddings": []}), 4)
    with pytest.raises(ValueError, match="ended inside"):
        _vectors(STORED[:30], 4)


def test_a_job_cut_around_its_place_and_joined_with_the_stored_bytes_is_the_job_with_its_result():
    view = JobView(id="j", domain="llm", task="embed", status=JobStatus.succeeded, created_at=datetime.now(UTC))
    view.result_omitted = True
    view.progress = {"note": 'a "result": place', "result": None}  # a look-alike elsewhere changes nothing
    head, tail = results.around(results.job_document(view))
    whole = json.loads(head + STORED + tail)
    assert whole == {**view.model_dump(mode="json"), "result": json.loads(STORED), "result_omitted": False}
