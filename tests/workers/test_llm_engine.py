"""The generation engine and the micro-batcher, in process, on a tiny random model."""

import asyncio
import threading
import time

import pytest
import torch

from common.contracts.llm import GenerateRequest
from workers.core.jobs import JobInputError, JobTimeLimitExceeded
from workers.domains.llm.batcher import BatcherDied, MicroBatcher
from workers.domains.llm.engine_loop import EngineLoop, LoopDied
from workers.domains.llm.generator import GenerationJob, TextGenerator


@pytest.fixture(scope="module")
def generator(tiny_llm_dir) -> TextGenerator:
    return TextGenerator(str(tiny_llm_dir), "tiny", torch.device("cpu"), torch.float32, progress_interval_s=0.01)


def _run(generator, *requests):
    return generator.generate([GenerationJob(r) for r in requests])


def test_batched_greedy_outputs_equal_unbatched_ones(generator):
    requests = [
        GenerateRequest(prompt=f"Job {i}: " + "the capital of France " * i, max_new_tokens=24) for i in range(8)
    ]
    batched = _run(generator, *requests)
    alone = [_run(generator, r)[0] for r in requests]
    assert [b.text for b in batched] == [a.text for a in alone]
    assert [b.usage for b in batched] == [a.usage for a in alone]
    assert {b.batch_size for b in batched} == {8} and {a.batch_size for a in alone} == {1}


def test_each_row_stops_at_its_own_max_new_tokens(generator):
    short, long = _run(
        generator, GenerateRequest(prompt="a", max_new_tokens=3), GenerateRequest(prompt="a", max_new_tokens=9)
    )
    assert (short.usage.completion_tokens, short.finish_reason) == (3, "length")
    assert (long.usage.completion_tokens, long.finish_reason) == (9, "length")
    assert long.text.startswith(short.text)


def test_a_stop_string_ends_the_text_before_it(generator):
    free = _run(generator, GenerateRequest(prompt="The quick", max_new_tokens=20))[0]
    stop = free.text[4:7]  # a piece the model is known to produce
    stopped = _run(generator, GenerateRequest(prompt="The quick", max_new_tokens=20, stop=[stop]))[0]
    assert stopped.finish_reason == "stop"
    assert stopped.text == free.text[: free.text.index(stop)]


def test_seeded_sampling_repeats_and_runs_alone(generator):
    sampled = GenerateRequest(prompt="One, two", max_new_tokens=12, temperature=1.0, seed=7)
    first, greedy, second = _run(generator, sampled, GenerateRequest(prompt="x", max_new_tokens=4), sampled)
    assert first.text == second.text and first.batch_size == 1 and greedy.batch_size == 1


def test_a_prompt_longer_than_the_context_fails_that_job_alone(generator):
    too_long = GenerateRequest(prompt="word " * 3000, max_new_tokens=8)
    failed, ok = _run(generator, too_long, GenerateRequest(prompt="fine", max_new_tokens=2))
    assert isinstance(failed, JobInputError) and "context of 2048 tokens" in str(failed)
    assert ok.usage.completion_tokens == 2


def test_chat_messages_use_the_chat_template(generator):
    chat = GenerateRequest(messages=[{"role": "user", "content": "hi"}], max_new_tokens=2)
    assert _run(generator, chat)[0].usage.prompt_tokens == len(generator.encode(chat))
    assert generator.encode(chat) == generator.tokenizer("<s>user: hi</s><s>assistant:")["input_ids"]


def test_progress_is_reported_and_a_false_answer_cancels_the_row(generator):
    seen = []

    def report(progress):
        seen.append(progress["completion_tokens"])
        return len(seen) < 3  # the third report finds the job canceled

    result = generator.generate([GenerationJob(GenerateRequest(prompt="x", max_new_tokens=1000), report)])[0]
    assert len(seen) == 3 and seen == sorted(seen)
    assert result.usage.completion_tokens < 1500  # stopped early


def test_a_row_past_its_deadline_stops_and_fails_while_the_others_go_on(generator):
    late = GenerationJob(GenerateRequest(prompt="x", max_new_tokens=1000), deadline=time.monotonic() + 0.2)
    started = time.monotonic()
    failed, ok = generator.generate([late, GenerationJob(GenerateRequest(prompt="y", max_new_tokens=5))])
    assert isinstance(failed, JobTimeLimitExceeded) and "stopped after" in str(failed)
    assert time.monotonic() - started < 30  # not the 1,000 tokens: stopped at its deadline
    assert ok.usage.completion_tokens == 5


def test_the_batcher_groups_waiting_items_and_returns_each_its_result():
    calls = []

    def run(items):
        calls.append(list(items))
        return [ValueError("bad") if item == "bad" else item.upper() for item in items]

    batcher = MicroBatcher(run, max_batch=4, wait_s=0.2)
    results = {}

    def submit(item):
        try:
            results[item] = batcher.submit(item)
        except ValueError as exc:
            results[item] = exc

    threads = [threading.Thread(target=submit, args=(item,)) for item in ("a", "b", "bad", "c", "d")]
    for thread in threads:
        thread.start()
        time.sleep(0.01)
    for thread in threads:
        thread.join(5)
    assert [len(c) for c in calls] == [4, 1]
    assert results["a"] == "A" and results["d"] == "D" and isinstance(results["bad"], ValueError)


def test_an_item_whose_deadline_passes_while_it_waits_for_the_batcher_is_dropped():
    release = threading.Event()
    ran = []

    def run(items):
        ran.extend(items)
        release.wait(10)  # the first batch holds the model thread
        return list(items)

    batcher = MicroBatcher(run, max_batch=1, wait_s=0)
    first = threading.Thread(target=batcher.submit, args=("first",))
    first.start()
    with pytest.raises(JobTimeLimitExceeded):
        batcher.submit("late", deadline=time.monotonic() + 0.3)
    release.set()
    first.join(5)
    assert batcher.submit("next") == "next" and ran == ["first", "next"]  # "late" never ran


# The model thread dies of an exception nothing catches, on purpose.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_batcher_thread_is_reported_and_waiting_jobs_do_not_hang():
    deaths = []

    def run(items):
        raise SystemExit  # as a BaseException out of the model call would end the thread

    batcher = MicroBatcher(run, max_batch=1, wait_s=0, on_death=deaths.append)
    started = time.monotonic()
    with pytest.raises(BatcherDied):
        batcher.submit("held")
    assert time.monotonic() - started < 10
    assert deaths and deaths[0] == "the micro-batcher thread ended"


def _stop(engine_loop: EngineLoop) -> None:
    engine_loop.loop.call_soon_threadsafe(engine_loop.loop.stop)
    engine_loop._thread.join(10)
    engine_loop.loop.close()


def test_the_engine_loop_runs_coroutines_for_pool_threads():
    engine_loop = EngineLoop("test-loop", on_death=lambda reason: None)

    async def double(x: int) -> int:
        await asyncio.sleep(0.01)
        return 2 * x

    assert engine_loop.result(engine_loop.submit(double(21))) == 42
    _stop(engine_loop)


# vLLM's event-loop thread, supervised the same way (the engine itself: tests/api/test_llm_vllm.py).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_engine_loop_thread_is_reported_and_waiting_jobs_do_not_hang():
    deaths = []
    engine_loop = EngineLoop("test-loop", on_death=deaths.append)
    running = threading.Event()

    async def forever() -> None:
        running.set()
        await asyncio.Event().wait()

    waiting = engine_loop.submit(forever())
    assert running.wait(10)

    def die() -> None:
        raise SystemExit("injected")  # asyncio lets it out of run_forever: the thread ends

    engine_loop.loop.call_soon_threadsafe(die)
    started = time.monotonic()
    with pytest.raises(LoopDied):
        engine_loop.result(waiting, poll_s=0.1)
    assert time.monotonic() - started < 10
    assert deaths == ["the test-loop thread ended", "the test-loop thread died"]
    pending = asyncio.all_tasks(engine_loop.loop)  # the dead thread's loop: finish it here
    for task in pending:
        task.cancel()
    engine_loop.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    engine_loop.loop.close()
