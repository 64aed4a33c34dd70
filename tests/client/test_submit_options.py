"""The SDK's submit options and the server's job contract: idempotency, deadlines, listing,
live events. Real API, real workers."""

import pytest

from domainq_client import JobFailedError, SubmitOptions


def test_an_idempotency_key_answers_the_same_job(sdk, llm_worker):
    options = SubmitOptions(idempotency_key="sdk-order-7")
    first = sdk.llm.embed(["same"], options=options)
    again = sdk.llm.embed(["same"], options=options)
    assert again.id == first.id
    other = sdk.llm.embed(["same"])  # no key given: the client makes one per call
    assert other.id != first.id
    assert len(first.wait(timeout=60).embeddings) == 1


def test_a_time_limit_of_its_own_stops_a_long_generation(sdk, llm_worker):
    job = sdk.llm.generate("Long", max_new_tokens=1500, options=SubmitOptions(time_limit_s=0.5))
    with pytest.raises(JobFailedError) as failed:
        job.wait(timeout=90)
    assert failed.value.job.error.type == "TimeLimitExceeded"


def test_a_deadline_shows_on_the_job_and_listing_filters_by_domain(sdk, llm_worker):
    job = sdk.llm.generate("Hi", max_new_tokens=2, options=SubmitOptions(cancel_after="5m"))
    assert job.refresh().view.deadline_at is not None
    job.wait(timeout=60)
    page = sdk.jobs.list(domain="llm", limit=5)
    assert page.jobs and all(j.domain == "llm" for j in page.jobs)
    assert job.id in {j.id for j in sdk.jobs.list(domain="llm", limit=100).jobs}


def test_streamed_events_add_up_to_the_generated_text(sdk, llm_worker):
    job = sdk.llm.generate("Stream me", max_new_tokens=300)
    events = list(job.events())
    assert events[-1].type == "done" and events[-1].job.status == "succeeded"
    progress = [e for e in events if e.type == "progress"]
    assert progress
    text = events[-1].job.result["text"]
    assert text.startswith(progress[-1].job.progress["text"]) and progress[-1].job.progress["text"]
