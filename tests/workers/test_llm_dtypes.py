"""The dtype ``LLM_DTYPE=auto`` picks, from the CPU's flags as /proc/cpuinfo lists them (no model loaded)."""

from pathlib import Path

import pytest

from workers.domains.llm import dtypes

# Abridged /proc/cpuinfo of three CPUs seen on machines of this kind.
AVX2_ONLY = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse2 avx avx2 fma\n"
AVX512_BF16 = "model name\t: AMD EPYC 9B14\nflags\t\t: fpu avx2 avx512f avx512bw avx512_bf16 avx512_vnni\n"
AMX = (
    "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz\n"
    "flags\t\t: avx2 avx512f avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8\n\n"
    "processor\t: 1\nflags\t\t: avx2 avx512f avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8\n"
)


def _on_cpu(cpuinfo: str, setting: str = "auto") -> dtypes.DtypeChoice:
    return dtypes.choose(setting, on_cuda=False, cuda_bf16=False, cpu=dtypes.cpu_flags(cpuinfo), gpu_auto="bfloat16")


def test_the_flags_are_read_from_the_flags_line_and_the_model_from_its_own():
    assert dtypes.cpu_flags(AVX2_ONLY) == {"fpu", "sse2", "avx", "avx2", "fma"}
    assert dtypes.cpu_model(AMX) == "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz"
    assert dtypes.cpu_flags("") == frozenset() and dtypes.cpu_model("") == "unknown"


@pytest.mark.parametrize(
    ("cpuinfo", "dtype", "reason"),
    [
        (AVX2_ONLY, "float32", "none of avx512_bf16, amx_bf16"),
        (AVX512_BF16, "bfloat16", "the CPU has avx512_bf16"),
        (AMX, "bfloat16", "the CPU has avx512_bf16 and amx_bf16"),
        ("", "float32", "none of"),  # no /proc/cpuinfo (not Linux): the safe choice
    ],
)
def test_auto_on_the_cpu_is_bfloat16_only_where_the_cpu_computes_in_it(cpuinfo, dtype, reason):
    choice = _on_cpu(cpuinfo)
    assert choice.dtype == dtype and reason in choice.reason


def test_an_explicit_dtype_wins_whatever_the_cpu():
    assert _on_cpu(AVX2_ONLY, "bfloat16") == dtypes.DtypeChoice("bfloat16", "LLM_DTYPE=bfloat16")
    assert _on_cpu(AMX, "float32").dtype == "float32"


def test_auto_on_a_gpu_is_its_bfloat16_choice_or_float16_whatever_the_host_cpu():
    def on_gpu(bf16: bool, gpu_auto: str) -> str:
        return dtypes.choose("auto", on_cuda=True, cuda_bf16=bf16, cpu=frozenset(), gpu_auto=gpu_auto).dtype

    assert on_gpu(True, "bfloat16") == "bfloat16" and on_gpu(True, "auto") == "auto"
    assert on_gpu(False, "bfloat16") == on_gpu(False, "auto") == "float16"


def test_this_machines_cpu_is_read():
    # Linux lists flags for every CPU; an empty set would silently mean float32 everywhere.
    assert "fpu" in dtypes.read_cpu_flags() or not Path("/proc/cpuinfo").exists()


def test_the_worker_logs_its_choice_with_the_reason_and_publishes_it_on_its_metrics(caplog):
    from workers.core import metrics
    from workers.domains.llm import tasks

    choice = dtypes.DtypeChoice("bfloat16", "the CPU has avx512_bf16")
    with caplog.at_level("INFO", logger=tasks.log.name):
        tasks._report("SmolLM2-135M-Instruct", "vllm", "cpu", choice)
    assert "llm dtype bfloat16: the CPU has avx512_bf16" in caplog.messages
    labels = {"domain": "llm", "model": "SmolLM2-135M-Instruct", "engine": "vllm", "device": "cpu"}
    published = [s for s in metrics._metrics().model.collect()[0].samples if s.labels.items() >= labels.items()]
    assert [(s.labels["dtype"], s.labels["reason"], s.value) for s in published] == [
        ("bfloat16", "the CPU has avx512_bf16", 1)
    ]
