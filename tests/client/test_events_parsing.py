"""Server-sent job events as ``Job.events()`` reads them, once a server streams them.

Today's server has no events route (the SDK tests cover the polling fallback against it);
these pin how the stream's frames become ``Event``s, whatever part of the job each carries.
"""

import json

from domainq_client._common import SseDecoder, event_from_sse, job_view

QUEUED = {"id": "a" * 32, "domain": "llm", "task": "generate", "status": "queued", "created_at": "2026-01-01T00:00:00Z"}


def _frames(text: str) -> list[tuple[str, str]]:
    decoder = SseDecoder()
    return [frame for line in text.split("\n") if (frame := decoder.feed(line)) is not None]


def test_frames_split_at_blank_lines_with_their_event_names():
    stream = 'event: status\ndata: {"status": "running"}\n\n: a comment\n\ndata: {"a": 1}\ndata: {"b": 2}\n\n'
    assert _frames(stream) == [("status", '{"status": "running"}'), ("message", '{"a": 1}\n{"b": 2}')]


def test_events_update_the_last_view_with_what_they_carry():
    last = job_view(QUEUED)
    status = event_from_sse("status", json.dumps({"status": "running"}), last)
    assert status.job.status == "running" and status.job.id == last.id
    progress = event_from_sse("progress", json.dumps({"completion_tokens": 3, "text": "abc"}), status.job)
    assert progress.job.progress == {"completion_tokens": 3, "text": "abc"} and progress.job.status == "running"
    more = event_from_sse("progress", json.dumps({"completion_tokens": 5, "text": "de"}), progress.job)
    assert more.job.progress == {"completion_tokens": 5, "text": "abcde"}  # events carry the new text only
    again = event_from_sse("progress", json.dumps({"completion_tokens": 1, "text": "x", "reset": True}), more.job)
    assert again.job.progress == {"completion_tokens": 1, "text": "x"}  # a new run starts over
    whole = {**QUEUED, "status": "succeeded", "result": {"text": "abc"}}
    done = event_from_sse("done", json.dumps(whole), progress.job)
    assert done.type == "done" and done.job.finished and done.job.result == {"text": "abc"}
