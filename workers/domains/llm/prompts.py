"""A request's prompt as token ids, the same for both engines: chat template, context check.

Both engines take these ids as they are, so a greedy job sees the same prompt on either, and
a prompt too long for the model fails as a ``JobInputError`` naming the sizes, before any
engine work.
"""

from typing import Any

from common.contracts.llm import GenerateRequest
from workers.core.jobs import JobInputError


class PromptEncoder:
    def __init__(self, tokenizer: Any, model_name: str, context: int) -> None:
        self.tokenizer = tokenizer
        self.model_name = model_name
        self.context = context

    def encode(self, request: GenerateRequest) -> list[int]:
        """Token ids of the prompt (chat template applied to messages); checks the context."""
        if request.messages is not None:
            if not self.tokenizer.chat_template:
                raise JobInputError(
                    f"model {self.model_name} has no chat template: send 'prompt' instead of 'messages'"
                )
            messages = [m.model_dump() for m in request.messages]
            text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        else:
            ids = list(self.tokenizer(request.prompt)["input_ids"])
        if len(ids) + request.max_new_tokens > self.context:
            raise JobInputError(
                f"prompt is {len(ids)} tokens and max_new_tokens is {request.max_new_tokens}; "
                f"model {self.model_name} has a context of {self.context} tokens"
            )
        return ids
