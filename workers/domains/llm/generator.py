"""The ``transformers`` engine: static batches, one ``generate`` call per group of waiting jobs.

Rows are left-padded so every prompt ends where generation starts. Each row stops on its
own (end of sequence, a stop string, its own ``max_new_tokens``, a cancel, or its job's
deadline, checked after every token: that job fails with ``JobTimeLimitExceeded``), so jobs with
different lengths and stop lists share a batch; greedy rows give the same tokens as unbatched.
Sampling rows are grouped by their settings, and seeded ones run alone so a seed repeats.
A row with a structured-output constraint has its logits masked by its own grammar matcher
(``grammars.GrammarRows``), so constrained and free jobs share batches.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)

from common.contracts.llm import GenerateRequest, GenerateResult, Usage
from workers.core.jobs import JobTimeLimitExceeded
from workers.domains.llm.constraints import constraint_of
from workers.domains.llm.grammars import GrammarRows, Grammars
from workers.domains.llm.prompts import PromptEncoder

ProgressFn = Callable[[dict[str, Any]], bool]  # returns False once the job was canceled


@dataclass
class GenerationJob:
    request: GenerateRequest
    report_progress: ProgressFn | None = None
    deadline: float | None = None  # time.monotonic(): the row stops there and its job fails
    prompt_ids: list[int] = field(default_factory=list)
    grammar: Any = None  # the compiled constraint (xgrammar), if the request has one


class _RowStops(StoppingCriteria):
    """Per-row stopping, plus throttled progress reports (which also notice cancels)."""

    def __init__(
        self, jobs: list[GenerationJob], prompt_len: int, tokenizer: Any, eos_ids: set[int], interval_s: float
    ) -> None:
        self.jobs, self.prompt_len, self.tokenizer, self.eos_ids = jobs, prompt_len, tokenizer, eos_ids
        self.interval_s = interval_s
        self.finished: list[tuple[int, str] | None] = [None] * len(jobs)  # (tokens, reason)
        self.canceled = [False] * len(jobs)
        self.next_report = time.monotonic() + interval_s

    def _text(self, row: torch.Tensor, n: int) -> str:
        return self.tokenizer.decode(row[self.prompt_len : self.prompt_len + n], skip_special_tokens=True)

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        n = input_ids.shape[1] - self.prompt_len
        now = time.monotonic()
        report = now >= self.next_report
        for i, job in enumerate(self.jobs):
            if self.finished[i] is not None:
                continue
            request = job.request
            if int(input_ids[i, -1]) in self.eos_ids or (
                request.stop and any(s in self._text(input_ids[i], n) for s in request.stop)
            ):
                self.finished[i] = (n, "stop")
            elif n >= request.max_new_tokens:
                self.finished[i] = (n, "length")
            elif job.deadline is not None and now >= job.deadline:
                self.finished[i] = (n, "time_limit")
            elif report and job.report_progress is not None:
                progress = {"completion_tokens": n, "text": self._text(input_ids[i], n)}
                if not job.report_progress(progress):
                    self.canceled[i] = True
                    self.finished[i] = (n, "canceled")
        if report:
            self.next_report = time.monotonic() + self.interval_s
        done = [f is not None for f in self.finished]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def _group_key(job: GenerationJob) -> tuple[Any, ...]:
    r = job.request
    if r.temperature == 0:
        return ("greedy",)
    if r.seed is not None:
        return ("seeded", id(job))  # alone: the seed must give the same text batched or not
    return ("sampled", r.temperature, r.top_p)


class TextGenerator:
    def __init__(self, path: str, name: str, device: torch.device, dtype: torch.dtype, progress_interval_s: float):
        self.name = name
        self.device = device
        self.progress_interval_s = progress_interval_s
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device).eval()
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        self.eos_ids.add(self.tokenizer.eos_token_id)
        context = getattr(self.model.config, "max_position_embeddings", None) or self.tokenizer.model_max_length
        self.prompts = PromptEncoder(self.tokenizer, name, context)
        # The model's vocabulary may be padded past the tokenizer's: masks cover the logits' width.
        self.grammars = Grammars(self.tokenizer, self.model.config.vocab_size, self.eos_ids)

    def encode(self, request: GenerateRequest) -> list[int]:
        return self.prompts.encode(request)

    def generate(self, jobs: list[GenerationJob]) -> list[GenerateResult | Exception]:
        """One result (or the exception that failed that job alone) per job, in order."""
        results: dict[int, GenerateResult | Exception] = {}
        ready = []
        for index, job in enumerate(jobs):
            try:
                job.prompt_ids = self.encode(job.request)
                constraint = constraint_of(job.request)
                job.grammar = self.grammars.compiled(constraint) if constraint is not None else None
                ready.append((index, job))
            except Exception as exc:  # a prompt past the context, a schema xgrammar refuses: this job alone
                results[index] = exc
        ready.sort(key=lambda pair: _group_key(pair[1]))
        for _, grouped in groupby(ready, key=lambda pair: _group_key(pair[1])):
            group = list(grouped)
            try:
                outputs = self._run([job for _, job in group])
            except Exception as exc:  # e.g. out of memory: fail this group's jobs, not the worker
                outputs = [exc] * len(group)
            results.update((index, out) for (index, _), out in zip(group, outputs, strict=True))
        return [results[i] for i in range(len(jobs))]

    @torch.inference_mode()
    def _run(self, jobs: list[GenerationJob]) -> list[GenerateResult | Exception]:
        started = time.perf_counter()
        batch = self.tokenizer.pad({"input_ids": [job.prompt_ids for job in jobs]}, return_tensors="pt").to(self.device)
        prompt_len = batch["input_ids"].shape[1]
        first = jobs[0].request
        stops = _RowStops(jobs, prompt_len, self.tokenizer, self.eos_ids, self.progress_interval_s)
        sampling: dict[str, Any] = {"do_sample": False}
        if first.temperature > 0:
            sampling = {"do_sample": True, "temperature": first.temperature, "top_p": first.top_p}
            if first.seed is not None:
                torch.manual_seed(first.seed)
        processors = LogitsProcessorList()
        if any(job.grammar is not None for job in jobs):
            grammars = [job.grammar for job in jobs]
            processors.append(GrammarRows(grammars, self.grammars.vocab_size, lambda i: stops.finished[i] is not None))
        output = self.model.generate(
            **batch,
            max_new_tokens=max(job.request.max_new_tokens for job in jobs),
            stopping_criteria=StoppingCriteriaList([stops]),
            logits_processor=processors,
            pad_token_id=self.tokenizer.pad_token_id,
            **sampling,
        )
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        return [
            self._result(job, output[i, prompt_len:], stops.finished[i], elapsed_ms, len(jobs))
            for i, job in enumerate(jobs)
        ]

    def _result(
        self, job: GenerationJob, new_ids: Any, finished: tuple[int, str] | None, elapsed_ms: float, batch_size: int
    ) -> GenerateResult | Exception:
        n, reason = finished or (len(new_ids), "length")
        if reason == "time_limit":
            return JobTimeLimitExceeded(f"stopped after {n} tokens")
        text = self.tokenizer.decode(new_ids[:n], skip_special_tokens=True)
        for stop in job.request.stop:
            if stop in text:
                text, reason = text[: text.index(stop)], "stop"
        return GenerateResult(
            text=text,
            finish_reason="stop" if reason == "canceled" else reason,
            usage=Usage(prompt_tokens=len(job.prompt_ids), completion_tokens=n),
            model=self.name,
            engine="transformers",
            elapsed_ms=elapsed_ms,
            batch_size=batch_size,
        )
