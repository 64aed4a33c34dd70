"""The ``vllm`` engine: every job the worker holds is one request inside one running ``AsyncLLM``.

vLLM batches continuously: requests join and leave the running batch at every step, so a
short job never waits for a long one. ``AsyncLLM`` lives on an event loop in a background
thread (``EngineLoop``; one engine per worker process, started once); each Celery pool thread holds one job,
hands its request to that loop with ``asyncio.run_coroutine_threadsafe`` and, while the request
runs, writes its progress from the pool thread, so Redis calls never block the loop. A cancel
(``report_progress`` answers False) cancels the request's task, and vLLM aborts it in the
engine at once; so does the job's deadline (its time limit: the job then fails with
``JobTimeLimitExceeded``). The engine core runs in a spawned process, which ``python -m
workers``'s ``__main__`` guard makes safe.

No wait is unbounded: a pool thread waits for its request in short steps, and if the loop
thread has ended, or vLLM says its engine died, the worker exits non-zero
(``workers.core.fatal``): every later job would hang or fail, and a fresh worker (its
supervisor starts one) gets a fresh engine; the reconciler runs the jobs it held again.

Structured outputs map to vLLM's own (``StructuredOutputsParams``), on its xgrammar backend with
JSON whitespace off, as the transformers engine compiles them; a constraint vLLM refuses when
the request is added fails that job alone (``InvalidConstraint``).
"""

import concurrent.futures
import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from transformers import AutoTokenizer

from common.contracts.llm import GenerateRequest, GenerateResult, Usage
from common.contracts.structured import JsonSchemaFormat
from workers.core import fatal
from workers.core.jobs import JobTimeLimitExceeded
from workers.domains.llm.constraints import constraint_of
from workers.domains.llm.engine_loop import EngineLoop
from workers.domains.llm.generator import ProgressFn
from workers.domains.llm.prompts import PromptEncoder

# Before vLLM is imported: its engine core must be spawned (never forked) so a CUDA context or
# the threads of the Celery worker are never copied into it.
os.environ.setdefault("VLLM_WORKER_MULTIPROC_METHOD", "spawn")

from vllm import SamplingParams
from vllm.config import StructuredOutputsConfig
from vllm.engine.arg_utils import AsyncEngineArgs
from vllm.exceptions import VLLMClientError
from vllm.inputs import TokensPrompt
from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams
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
    dtype: str  # "auto" follows the model folder's (bfloat16 for the default model); models.vllm_dtype
    max_num_seqs: int
    max_model_len: int  # 0: the model's own
    gpu_memory_utilization: float
    enforce_eager: bool
    kv_cache_bytes: int | None = None  # None: vLLM sizes it from gpu_memory_utilization


class VllmGenerator:
    def __init__(
        self,
        path: str,
        name: str,
        options: VllmOptions,
        progress_interval_s: float,
        on_death: Callable[[str], object] = fatal.exit_worker,
    ) -> None:
        self.name = name
        self.progress_interval_s = progress_interval_s
        self.on_death = on_death
        self._ids = itertools.count()
        self._running = 0  # requests in the engine now (touched on the loop thread only)
        self._loop = EngineLoop("vllm-engine-loop", on_death)
        args = AsyncEngineArgs(
            model=path,
            served_model_name=name,
            dtype=options.dtype,
            max_model_len=options.max_model_len or None,
            max_num_seqs=options.max_num_seqs,
            gpu_memory_utilization=options.gpu_memory_utilization,
            kv_cache_memory_bytes=options.kv_cache_bytes,
            enforce_eager=options.enforce_eager,
            disable_log_stats=True,
            # xgrammar named (not "auto"): JSON whitespace can only be turned off on a named backend,
            # and free whitespace lets a small model indent until max_tokens cuts the JSON.
            structured_outputs_config=StructuredOutputsConfig(backend="xgrammar", disable_any_whitespace=True),
        )
        # Built on the loop: AsyncLLM starts its output handler on the loop it is created in.
        self.engine: AsyncLLM = self._loop.result(self._loop.submit(self._start(args)))
        # The tokenizer the transformers engine uses too: both engines see the same prompt ids.
        tokenizer = AutoTokenizer.from_pretrained(path)
        self.prompts = PromptEncoder(tokenizer, name, self.engine.model_config.max_model_len)

    def _alive(self) -> None:
        """Hand over to ``on_death`` when the loop thread ended, or vLLM's engine died."""
        self._loop.check()
        if self.engine.errored:
            self.on_death("the vLLM engine died (its engine core process or output handler ended)")
            raise RuntimeError("the vLLM engine died")

    @staticmethod
    async def _start(args: AsyncEngineArgs) -> AsyncLLM:
        return AsyncLLM.from_engine_args(args)

    def generate(
        self, request: GenerateRequest, report_progress: ProgressFn | None = None, deadline: float | None = None
    ) -> GenerateResult:
        """Run one job's request in the engine, blocking this pool thread until it ends (or its
        ``deadline``, a ``time.monotonic()`` time: then ``JobTimeLimitExceeded``)."""
        started = time.perf_counter()
        prompt_ids = self.prompts.encode(request)
        progress = _Progress()
        running = self._loop.submit(self._stream(prompt_ids, _sampling(request), progress, request))
        try:
            canceled = self._wait(running, progress, report_progress, deadline)
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
        self,
        running: "concurrent.futures.Future[None]",
        progress: _Progress,
        report_progress: ProgressFn | None,
        deadline: float | None,
    ) -> bool:
        """Wait for the request, writing its progress between; True when the job was canceled.

        Written every interval, new tokens or not: the answer is also how a cancel is noticed,
        for a request still waiting for a place in the engine's batch too.
        """
        while True:
            step = self.progress_interval_s
            if deadline is not None:
                step = max(min(step, deadline - time.monotonic()), 0.001)
            try:
                running.result(timeout=step)
                return False
            except concurrent.futures.TimeoutError:
                pass
            except Exception:
                self._alive()  # an engine that died fails every request: the worker exits
                raise
            self._alive()
            if deadline is not None and time.monotonic() >= deadline:
                raise JobTimeLimitExceeded(f"stopped after {progress.completion_tokens} tokens")
            if report_progress is None:
                continue
            if not report_progress({"completion_tokens": progress.completion_tokens, "text": progress.text}):
                return True

    async def _stream(
        self, prompt_ids: list[int], sampling: SamplingParams, progress: _Progress, request: GenerateRequest
    ) -> None:
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
        except (VLLMClientError, ValueError) as exc:
            # vLLM checks a request as it is added: with a constraint, the constraint is what it refused.
            constraint = constraint_of(request)
            if constraint is None or progress.completion_tokens:
                raise
            raise constraint.refused(str(exc)) from None
        finally:
            self._running -= 1


def _structured(request: GenerateRequest) -> StructuredOutputsParams | None:
    """The job's constraint as vLLM's structured outputs (at most one is set: the contract's rule)."""
    rf = request.response_format
    if isinstance(rf, JsonSchemaFormat):
        return StructuredOutputsParams(json=rf.json_schema.schema_)
    if rf is not None:
        return StructuredOutputsParams(json_object=True)
    if request.choice is not None:
        return StructuredOutputsParams(choice=list(request.choice))
    if request.regex is not None:
        return StructuredOutputsParams(regex=request.regex)
    return None


def _sampling(request: GenerateRequest) -> SamplingParams:
    """The job's settings as vLLM's; temperature 0 is greedy, a seed makes sampling repeat."""
    return SamplingParams(
        structured_outputs=_structured(request),
        max_tokens=request.max_new_tokens,
        temperature=request.temperature,
        top_p=request.top_p,
        seed=request.seed,
        stop=list(request.stop) or None,
        skip_special_tokens=True,
        output_kind=RequestOutputKind.DELTA,  # new text only: the job keeps the whole text itself
    )
