"""Contracts between the API and the workers: job shape, task and queue names, per-domain
request and result models. Pydantic only, so both images can import them."""
