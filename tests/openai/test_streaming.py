"""Streamed answers are read from the job's event stream, the one ``/v1/jobs/{id}/events`` serves."""

import time

from tests.openai.conftest import CHAT_MODEL

HI = [{"role": "user", "content": "Say hi"}]
STREAMED = 1000  # tokens: several progress events even on a fast machine


def _stream(oai, key: str) -> tuple[str, list[str]]:
    stream = oai.chat.completions.create(
        model=CHAT_MODEL,
        messages=HI,
        max_completion_tokens=STREAMED,
        stream=True,
        extra_headers={"Idempotency-Key": key},
    )
    with stream:
        chunks = list(stream)
    return chunks[0].id, [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]


def test_a_retried_stream_of_a_finished_job_replays_its_progress_chunk_for_chunk(oai, client):
    key = f"replay-{time.time_ns()}"
    answer_id, first = _stream(oai, key)
    job = client.get(f"/v1/jobs/{answer_id.split('-', 1)[1]}").json()
    assert job["status"] == "succeeded" and len(first) > 2 and "".join(first) == job["result"]["text"]
    # The job has ended: read back from its record, its text would come whole; its events
    # still hold each progress report, so the retry streams the same chunks.
    again_id, again = _stream(oai, key)
    assert again_id == answer_id and again == first
