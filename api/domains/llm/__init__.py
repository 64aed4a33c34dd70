"""LLM routes: validate generate and embed requests, queue them."""
