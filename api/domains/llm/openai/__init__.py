"""The OpenAI-compatible API under ``/openai/v1``, over llm jobs: included with the llm domain."""
