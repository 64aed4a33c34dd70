"""``python -m devtools.llm_margins QUESTION=ANSWER...``: how widely the default model's greedy
float32 answer to each chat question wins its tokens, in nats.

For each question it prints the greedy answer (transformers, float32, the chat template), the
first token's margin (top log-probability minus the second) and the narrowest margin of any
token up to the one that completes ``ANSWER``. A question whose narrowest margin is well over
bfloat16's rounding (about a tenth of a nat) is one any dtype must get right; this picked
the questions of tests/workers/test_llm_auto_dtype.py.
"""

import json
import os
import sys
from typing import Any

MAX_NEW_TOKENS = 16


def margins(model: Any, tokenizer: Any, question: str, answer: str) -> dict[str, Any]:
    import torch

    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )["input_ids"]
    text, steps = "", []
    with torch.inference_mode():
        for _ in range(MAX_NEW_TOKENS):
            top = torch.log_softmax(model(ids).logits[0, -1].float(), -1).topk(2)
            steps.append(round((top.values[0] - top.values[1]).item(), 3))
            text += tokenizer.decode(top.indices[0])
            ids = torch.cat([ids, top.indices[:1].view(1, 1)], 1)
            if answer in text or top.indices[0].item() == tokenizer.eos_token_id:
                break
    return {"question": question, "answer": text, "right": answer in text, "first": steps[0], "narrowest": min(steps)}


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workers.domains.llm import models
    from workers.domains.llm.config import LlmSettings

    folder = models.converted_default_generator(LlmSettings().cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    for pair in sys.argv[1:]:
        question, _, answer = pair.rpartition("=")
        print(json.dumps(margins(model, tokenizer, question, answer)), flush=True)
