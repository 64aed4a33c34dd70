"""One sub-package per domain. Each ``__init__`` declares, without importing heavy code:

- ``EXTRA``: the pip extra that installs the domain's libraries;
- ``REQUIRES``: the modules that extra provides (checked at start, not imported);
- ``POOL`` and ``CONCURRENCY`` (a number, or a function of the domain's settings): how the
  worker runs, keeping one model copy per process;

and its ``tasks`` module holds the ``@job_task`` functions.
"""
