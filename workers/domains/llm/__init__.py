"""LLM domain: text generation (micro-batched) and embeddings with transformers."""

EXTRA = "llm"
REQUIRES = ("torch", "transformers")
# Threads, not prefork: several jobs must wait on one model copy at once to be batched.
POOL = "threads"


def CONCURRENCY() -> int:  # the same name other domains give a constant
    """One thread per job that can share a batch (``LLM_MAX_BATCH``), plus one for embeddings."""
    from workers.domains.llm.config import get_llm_settings

    return get_llm_settings().max_batch + 1
