"""An OpenAI-compatible API for the llm domain, under ``/openai/v1``: every call is an llm job."""
