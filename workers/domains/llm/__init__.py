"""LLM domain: text generation (vLLM's continuous batching, or transformers) and embeddings."""

EXTRA = "llm"
REQUIRES = ("torch", "transformers")
# Threads, not prefork: one engine (one model copy) per process serves every job the worker holds.
POOL = "threads"


def CONCURRENCY() -> int:  # the same name other domains give a constant
    """Jobs held at once: what the engine runs together, plus one for embeddings."""
    from workers.domains.llm.config import get_llm_settings
    from workers.domains.llm.engines import jobs_held

    return jobs_held(get_llm_settings())
