"""Benchmarks behind ``scripts/benchmark.py``: each module measures one claim side by side
with its baseline, in one run, and returns ``Figure`` rows for the report."""
