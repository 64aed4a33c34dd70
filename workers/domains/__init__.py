"""One sub-package per domain. Each ``__init__`` declares, without importing heavy code:

- ``EXTRA``: the pip extra that installs the domain's libraries;
- ``REQUIRES``: the modules that extra provides (checked at start, not imported);
- ``POOL`` and ``CONCURRENCY``: how the worker runs (one model copy per process);

and its ``tasks`` module holds the ``@job_task`` functions.
"""
