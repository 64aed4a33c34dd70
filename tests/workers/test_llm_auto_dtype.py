"""The default model, on each engine in the dtype ``LLM_DTYPE=auto`` picks here, answers what it knows.

bfloat16 changes many of the default model's greedy answers somewhere in 32 tokens
(docs/performance.md, "llm dtype agreement"): near-ties that either dtype may win, such as the
first token of "What is the capital of France?" ("The" over "L" by 0.098 nats in float32). These
questions are not near-ties. In float32 (transformers, chat template, greedy), every token up
to the answer wins by over 2 nats (``python -m devtools.llm_margins "QUESTION=ANSWER"``: the top
log-probability minus the second, first token / narrowest token up to the answer):

    What is the capital of Japan?             The capital of Japan is Tokyo.     2.55 / 2.55
    What is the capital of England?           The capital of England is London.  2.61 / 2.61
    What is the capital of Russia?            The capital of Russia is Moscow.   2.35 / 2.35
    What is the capital of Egypt?             The capital of Egypt is Cairo.     3.34 / 2.15
    What is the chemical symbol for water?    ... for water is H2O.              3.08 / 2.80

bfloat16's rounding moves these logits by about a tenth of a nat, so whichever dtype ``auto``
picks on the CPU at hand, a wrong answer here is a real regression (a kernel, a cast, the
model's conversion), not a near-tie.
"""

import json
import os
import subprocess
import sys

import pytest
import torch

from workers.domains.llm import dtypes, models

FACTS = {
    "What is the capital of Japan?": "Tokyo",
    "What is the capital of England?": "London",
    "What is the capital of Russia?": "Moscow",
    "What is the capital of Egypt?": "Cairo",
    "What is the chemical symbol for water?": "H2O",
}
MAX_NEW_TOKENS = 12  # the answers above end by their 10th token


def _auto_dtype(engine: str) -> str:
    cpu = dtypes.read_cpu_flags()
    if engine == "vllm":
        return models.vllm_dtype("auto", on_cpu=not torch.cuda.is_available(), cpu=cpu).dtype
    return models.generator_dtype("auto", models.pick_device("auto"), cpu).dtype


@pytest.mark.parametrize("engine", ["transformers", "vllm"])
def test_the_default_model_answers_facts_it_knows_by_a_wide_margin_in_the_auto_dtype(engine):
    # The engine as a worker builds it, in a process of its own (vLLM spawns its engine core).
    env = {**os.environ, "LLM_ENGINE": engine, "LLM_DTYPE": "auto", "LLM_MAX_NUM_SEQS": "8", "LLM_KV_CACHE_GIB": "0.25"}
    probe = subprocess.run(
        [sys.executable, "-m", "devtools.llm_answers", str(MAX_NEW_TOKENS), *FACTS],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr[-3000:]
    ran = json.loads(probe.stdout.strip().splitlines()[-1])
    expected = _auto_dtype(engine)
    assert ran["engine"] == engine
    if expected != "auto":  # vLLM on a bfloat16 GPU: the model folder's own
        assert ran["dtype"] == expected
    assert f"llm dtype {expected}: " in probe.stderr  # the worker says which, and why
    wrong = {q: a for (q, fact), a in zip(FACTS.items(), ran["answers"], strict=True) if fact not in a}
    assert not wrong, f"{engine} in {ran['dtype']} answered wrongly: {wrong}"
