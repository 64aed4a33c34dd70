"""The ``vllm`` engine: every job the worker holds is one request inside one running ``AsyncLLM``.

vLLM batches continuously: requests join and leave the running batch at every step, so a
short job never waits for a long one. ``AsyncLLM`` lives on an event loop in a background
thread (one engine per worker process, started once); each Celery pool thread holds one job,
hands its request to that loop with ``asyncio.run_coroutine_threadsafe`` and, while the request
runs, writes its progress from the pool thread, so Redis calls never block the loop. A cancel
(``report_progress`` answers False) cancels the request's task, and vLLM aborts it in the
engine at once. The engine core runs in a spawned process, which ``python -m workers``'s
``__main__`` guard makes safe.
"""

import asyncio
import concurrent.futures
import itertools
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from transformers import AutoTokenizer

from common.contracts.llm import GenerateRequest, GenerateResult, Usage
from workers.domains.llm.generator import ProgressFn
from workers.domains.llm.prompts import PromptEncoder

# Before vLLM is imported: its engine core must be spawned (never forked) so a CUDA context or
# the threads of the Celery worker are never copied into it.
os.environ.setdefault("VLLM_WORKER_MULTIPROC_METHOD", "spawn")

from vllm import SamplingParams
from vllm.engine.arg_utils import AsyncEngineArgs
from vllm.inputs import TokensPrompt
from vllm.sampling_params import RequestOutputKind
from vllm.v1.engine.async_llm import AsyncLLM


@dataclass
class _Progress:
    """What a running request has produced so far; written on the loop, read by its pool thread."""

    pieces: list[str] = field(default_factory=list)
    completion_tokens: int = 0
    finish_reason: str | None = None
    peak_running: int = 0

    @property
    def text(self) -> str:
        return "".join(self.pieces)


@dataclass(frozen=True)
class VllmOptions:
    dtype: str  # "auto" follows the model folder's (bfloat16 for the default model)
    max_num_seqs: int
    max_model_len: int  # 0: the model's own
    gpu_memory_utilization: float
    enforce_eager: bool


class VllmGenerator:
    def __init__(self, path: str, name: str, options: VllmOptions, progress_interval_s: float) -> None:
        self.name = name
        self.progress_interval_s = progress_interval_s
        self._ids = itertools.count()
        self._running = 0  # requests in the engine now (touched on the loop thread only)
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="vllm-engine-loop", daemon=True).start()
        args = AsyncEngineArgs(
            model=path,
            served_model_name=name,
            dtype=options.dtype,
            max_model_len=options.max_model_len or None,
            max_num_seqs=options.max_num_seqs,
            gpu_memory_utilization=options.gpu_memory_utilization,
            enforce_eager=options.enforce_eager,
            disable_log_stats=True,
        )
        # Built on the loop: AsyncLLM starts its output handler on the loop it is created in.
        self.engine: AsyncLLM = self._on_loop(self._start(args)).result()
        # The tokenizer the transformers engine uses too: both engines see the same prompt ids.
        tokenizer = AutoTokenizer.from_pretrained(path)
        self.prompts = PromptEncoder(tokenizer, name, self.engine.model_config.max_model_len)

    def _on_loop(self, coroutine: Any) -> "concurrent.futures.Future[Any]":
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    @staticmethod
    async def _start(args: AsyncEngineArgs) -> AsyncLLM:
        return AsyncLLM.from_engine_args(args)

    def generate(self, request: GenerateRequest, report_progress: ProgressFn | None = None) -> GenerateResult:
        """Run one job's request in the engine, blocking this pool thread until it ends."""
        started = time.perf_counter()
        prompt_ids = self.prompts.encode(request)
        progress = _Progress()
        running = self._on_loop(self._stream(prompt_ids, _sampling(request), progress))
        try:
            canceled = self._wait(running, progress, report_progress)
        finally:
            running.cancel()  # a no-op once it ended; otherwise vLLM aborts the request
        text = progress.text
        for stop in request.stop:  # a cancel can leave a stop string vLLM had not cut yet
            if stop in text:
                text = text[: text.index(stop)]
        reason = "stop" if canceled or progress.finish_reason in ("stop", "abort") else "length"
        return GenerateResult(
            text=text,
            finish_reason=reason,
            usage=Usage(prompt_tokens=len(prompt_ids), completion_tokens=progress.completion_tokens),
            model=self.name,
            engine="vllm",
            elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
            batch_size=max(progress.peak_running, 1),
        )

    def _wait(
        self, running: "concurrent.futures.Future[None]", progress: _Progress, report_progress: ProgressFn | None
    ) -> bool:
        """Wait for the request, writing its progress between; True when the job was canceled.

        Written every interval, new tokens or not: the answer is also how a cancel is noticed,
        for a request still waiting for a place in the engine's batch too.
        """
        while True:
            try:
                running.result(timeout=self.progress_interval_s)
                return False
            except concurrent.futures.TimeoutError:
                pass
            if report_progress is None:
                continue
            if not report_progress({"completion_tokens": progress.completion_tokens, "text": progress.text}):
                return True

    async def _stream(self, prompt_ids: list[int], sampling: SamplingParams, progress: _Progress) -> None:
        request_id = f"job-{next(self._ids)}"
        self._running += 1
        try:
            async for output in self.engine.generate(TokensPrompt(prompt_token_ids=prompt_ids), sampling, request_id):
                completion = output.outputs[0]
                progress.pieces.append(completion.text)
                progress.completion_tokens += len(completion.token_ids)
                progress.peak_running = max(progress.peak_running, self._running)
                if output.finished:
                    progress.finish_reason = completion.finish_reason
        finally:
            self._running -= 1


def _sampling(request: GenerateRequest) -> SamplingParams:
    """The job's settings as vLLM's; temperature 0 is greedy, a seed makes sampling repeat."""
    return SamplingParams(
        max_tokens=request.max_new_tokens,
        temperature=request.temperature,
        top_p=request.top_p,
        seed=request.seed,
        stop=list(request.stop) or None,
        skip_special_tokens=True,
        output_kind=RequestOutputKind.DELTA,  # new text only: the job keeps the whole text itself
    )
