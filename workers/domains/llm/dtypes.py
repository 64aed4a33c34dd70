"""The dtype the llm engines run in: ``LLM_DTYPE``, or for ``auto`` the one the hardware runs fast.

bfloat16 is not less right than float32 on the default model, only different: over 60 greedy
prompts of 32 tokens, 17 to 27 answers changed somewhere (by engine and machine), and judged by
hand bfloat16 was better in 3 of 17 and 4 of 27, float32 in 0 and 2, the rest equivalent or
both wrong (docs/performance.md, "LLM dtype agreement"). What differs is speed, and it depends
on the CPU: vLLM in bfloat16 ran 1.8x float32's tokens/s with AVX-512 BF16 and ~3.4x with AMX
too; on an AVX2-only CPU its oneDNN bfloat16 matmul could not be set up, fell back, and ran 5.1x
slower. So ``auto`` takes bfloat16 where the hardware computes in it, float32 elsewhere, and
says why.
"""

from dataclasses import dataclass
from pathlib import Path

# /proc/cpuinfo flags of the instructions that compute in bfloat16 (AVX-512 BF16, AMX's tiles).
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# What benchmarks record beside their figures: the vector extensions a dtype's speed depends on.
REPORTED_CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_fp16")


@dataclass(frozen=True)
class DtypeChoice:
    dtype: str  # a torch dtype's name, or "auto" for vLLM on a GPU (the model folder's own)
    reason: str  # for the worker's log and metrics


def cpu_flags(cpuinfo: str) -> frozenset[str]:
    """The feature flags in ``/proc/cpuinfo``'s text (its first ``flags`` line: all cores list the same)."""
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def read_cpu_flags(path: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """This machine's CPU flags; none where the file is not there (not Linux)."""
    try:
        return cpu_flags(path.read_text())
    except OSError:
        return frozenset()


def cpu_model(cpuinfo: str) -> str:
    """The CPU's name as ``/proc/cpuinfo`` gives it (``lscpu``'s "Model name")."""
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "model name":
            return value.strip()
    return "unknown"


def choose(setting: str, *, on_cuda: bool, cuda_bf16: bool, cpu: frozenset[str], gpu_auto: str) -> DtypeChoice:
    """The dtype for ``LLM_DTYPE=setting``: an explicit one as it is; ``auto`` by the hardware.

    On a GPU ``auto`` is ``gpu_auto`` where it computes in bfloat16 (the transformers engine asks
    for bfloat16, vLLM for the model folder's own), else float16; on the CPU bfloat16 where one
    of ``BF16_CPU_FLAGS`` is in ``cpu``, else float32.
    """
    if setting != "auto":
        return DtypeChoice(setting, f"LLM_DTYPE={setting}")
    if on_cuda:
        if cuda_bf16:
            return DtypeChoice(gpu_auto, "a CUDA GPU that computes in bfloat16")
        return DtypeChoice("float16", "a CUDA GPU without bfloat16")
    found = [flag for flag in BF16_CPU_FLAGS if flag in cpu]
    if found:
        return DtypeChoice("bfloat16", f"the CPU has {' and '.join(found)}")
    return DtypeChoice("float32", f"the CPU has none of {', '.join(BF16_CPU_FLAGS)}: bfloat16 would be emulated")
