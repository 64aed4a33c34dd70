"""The official ``openai`` package pointed at ``/openai/v1``, with the suite's admin key."""

import openai
import pytest


@pytest.fixture
def oai(api_url, redis_stack, llm_worker):
    client = openai.OpenAI(base_url=f"{api_url}/openai/v1", api_key=redis_stack.admin_key, max_retries=0, timeout=90)
    yield client
    client.close()


CHAT_MODEL = "SmolLM2-135M-Instruct"  # the served ids' defaults (OPENAI_COMPAT_*_MODEL)
EMBEDDING_MODEL = "all-MiniLM-L6-v2"
