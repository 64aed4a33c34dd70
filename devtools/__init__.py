"""Development and test tooling: never imported by the API or the workers, never in an image.

- ``localstack``: start the platform's real processes on this machine (``scripts/dev.sh``,
  the tests, the benchmarks);
- ``procinfo``: what a running process group holds (memory, native libraries), from /proc;
- ``tiny_llm``: a tiny random causal LM with a real tokenizer, built offline in seconds.
"""
