"""``llm.generate`` (on the worker's engine) and ``llm.embed``: thin edges over the engines."""

import logging
import os
from typing import TYPE_CHECKING, Any

from common.contracts.llm import DOMAIN, EMBED, EXTRACT, GENERATE, ExtractRequest, GenerateRequest, bounded
from workers.core.jobs import JobContext, job_task
from workers.core.lazy import Lazy
from workers.core.metrics import model_info, timed_model_load
from workers.core.pages import document_result
from workers.domains.llm import dtypes, engines, extraction, models
from workers.domains.llm.config import LlmSettings, get_llm_settings

if TYPE_CHECKING:  # the engines import torch (and vllm): only once a job needs them
    from common.contracts.llm import GenerateResult
    from workers.domains.llm.batcher import MicroBatcher
    from workers.domains.llm.embedder import Embedder
    from workers.domains.llm.generator import GenerationJob, TextGenerator
    from workers.domains.llm.vllm_engine import VllmGenerator

log = logging.getLogger(__name__)


def _hub_policy(settings: LlmSettings) -> None:
    """Keep transformers off the hub unless a model setting names a hub id.

    Set before transformers is imported: otherwise a missing local model makes it retry the
    hub for ~46 s before failing.
    """
    wanted = [s for s in (settings.model, settings.embed_model) if s != models.DEFAULT]
    if not any(models.resolve(s, s).needs_hub for s in wanted):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # per-tensor progress bars flood worker logs


def _build_generator() -> "TextGenerator":
    settings = get_llm_settings()
    _hub_policy(settings)
    import torch

    from workers.domains.llm.generator import TextGenerator

    with timed_model_load(DOMAIN):
        source = models.generator_source(settings.model, settings.cache_dir)
        device = models.pick_device(settings.device)
        choice = models.generator_dtype(settings.dtype, device, dtypes.read_cpu_flags())
        _report(source.name, engines.TRANSFORMERS, str(device), choice)
        dtype = getattr(torch, choice.dtype)
        return TextGenerator(source.path, source.name, device, dtype, settings.progress_interval_ms / 1000)


def _build_vllm() -> "VllmGenerator":
    settings = get_llm_settings()
    _hub_policy(settings)
    from workers.domains.llm.vllm_engine import VllmGenerator, VllmOptions

    with timed_model_load(DOMAIN):
        source = models.generator_source(settings.model, settings.cache_dir)
        on_cpu = not models.cuda_available()
        eager = settings.enforce_eager == "true" or (settings.enforce_eager == "auto" and on_cpu)
        choice = models.vllm_dtype(settings.dtype, on_cpu, dtypes.read_cpu_flags())
        _report(source.name, engines.VLLM, "cpu" if on_cpu else "cuda", choice)
        options = VllmOptions(
            dtype=choice.dtype,
            max_num_seqs=settings.max_num_seqs,
            max_model_len=settings.max_model_len,
            gpu_memory_utilization=settings.gpu_memory_utilization,
            enforce_eager=eager,
            kv_cache_bytes=models.kv_cache_bytes(settings.kv_cache_gib, on_cpu),
        )
        return VllmGenerator(source.path, source.name, options, settings.progress_interval_ms / 1000)


def _report(model: str, engine_name: str, device: str, choice: dtypes.DtypeChoice) -> None:
    """Say which dtype the engine runs in and why: in the log, and on the worker's ``/metrics``."""
    extra = {"domain": DOMAIN, "model": model, "engine": engine_name, "device": device}
    log.info("llm dtype %s: %s", choice.dtype, choice.reason, extra=extra)
    model_info(DOMAIN, model=model, engine=engine_name, device=device, dtype=choice.dtype, reason=choice.reason)


def _build_embedder() -> "Embedder":
    settings = get_llm_settings()
    _hub_policy(settings)
    from workers.domains.llm.embedder import Embedder

    with timed_model_load(DOMAIN):
        source = models.embedder_source(settings.embed_model)
        return Embedder(source.path, source.name, models.pick_device(settings.device), settings.embed_batch_size)


def _build_batcher() -> "MicroBatcher[GenerationJob, GenerateResult]":
    from workers.domains.llm.batcher import MicroBatcher

    settings = get_llm_settings()
    return MicroBatcher(generator.get().generate, settings.max_batch, settings.batch_wait_ms / 1000)


# Which engine generates: settled once per process (LLM_ENGINE, and whether vllm is installed).
engine = Lazy(lambda: engines.pick_engine(get_llm_settings()))
generator = Lazy(_build_generator)
vllm_generator = Lazy(_build_vllm)
embedder = Lazy(_build_embedder)
batcher = Lazy(_build_batcher)


def warmup() -> None:
    if engine.get() == engines.VLLM:
        vllm_generator.get()
    else:
        batcher.get()
    embedder.get()


def check_config() -> None:
    """Fail at worker start on bad settings, not at the first job."""
    settings = get_llm_settings()  # its request caps too
    if engines.pick_engine(settings) == engines.VLLM:
        engines.check_vllm_imports()
        engines.check_vllm_device()


@job_task(DOMAIN, GENERATE)
def generate(job: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    # The caps too, this worker's: they may differ from the API's.
    request = bounded(get_llm_settings()).generate.model_validate(params)
    return _generated(job, request).model_dump()


def _generated(job: JobContext, request: GenerateRequest, report: Any = None) -> "GenerateResult":
    """``request`` on the worker's engine; ``report``: its progress (default: the job's own)."""
    if engine.get() == engines.VLLM:
        return vllm_generator.get().generate(request, report or job.report_progress, job.deadline)
    engine_batcher = batcher.get()  # built under the load lock, which imports the generator module
    from workers.domains.llm.generator import GenerationJob

    item = GenerationJob(request, report or job.report_progress, job.deadline)
    return engine_batcher.submit(item, job.deadline)


@job_task(DOMAIN, EXTRACT)
def extract(job: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """An extraction's second stage, once its OCR pages ended: JSON from their text."""
    assert job.read_stored is not None
    request = ExtractRequest.model_validate(
        {k: v for k, v in params.items() if k in ("schema", "instructions", "max_new_tokens")}
    )
    document = document_result(job.store, job.job_id, job.read_stored)  # every page failed: JobInputError
    generation = extraction.generate_request(request, document["text"], bounded(get_llm_settings()).generate)

    def report(progress: dict[str, Any]) -> bool:
        return job.report_progress({**progress, "stage": "llm"})

    return extraction.result(document, _generated(job, generation, report)).model_dump()


@job_task(DOMAIN, EMBED)
def embed(job: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    request = bounded(get_llm_settings()).embed.model_validate(params)
    return embedder.get().embed(request.texts, job.deadline).model_dump()
