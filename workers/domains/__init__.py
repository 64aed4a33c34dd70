"""One sub-package per domain. Each ``__init__`` declares, without importing heavy code:

- ``EXTRA``: the pip extra that installs the domain's libraries (``None``: it needs none);
- ``REQUIRES``: the modules that extra provides (checked at start, not imported);
- ``POOL`` and ``CONCURRENCY`` (a number, or a function of the domain's settings): how the
  worker runs, keeping one model copy per process;
- ``JOBS`` (optional, ``True`` unless said): ``False`` for a domain of the platform's own that
  runs no jobs and has no API routes (``hooks``, the webhook deliveries); the walks over job
  domains (``installed_domains``, the local stack's API) leave it out;

and its ``tasks`` module holds the ``@job_task`` functions, and optionally:

- ``check_config()``: raise ``ValueError`` at start on a bad configuration;
- ``warmup()``: load the model in the serving process, once it exists;
- ``register(app, settings)``: add Celery tasks that are not jobs (``hooks.deliver``);
- ``on_ready(app, settings)``: start what the worker's main process runs beside the pool
  (the hooks pump), once the worker is ready.
"""
