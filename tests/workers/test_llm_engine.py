"""The generation engine and the micro-batcher, in process, on a tiny random model."""

import threading
import time

import pytest
import torch

from common.contracts.llm import GenerateRequest
from workers.core.jobs import JobInputError
from workers.domains.llm.batcher import MicroBatcher
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
