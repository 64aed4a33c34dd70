"""Ending the worker process when a part it cannot serve without is gone.

A thread the worker's jobs depend on (the LLM micro-batcher, vLLM's event loop) that dies, or
a job that runs past its hard time limit in a pool that cannot kill it (threads, solo), leaves
the worker unable to serve: every later job would hang or fail. The worker exits non-zero
instead, so its supervisor (compose's ``restart``, Kubernetes) starts a fresh one; the jobs it
held are run again by the reconciler (their leases are released first, so that happens at its
next pass rather than a lease later).
"""

import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn

log = logging.getLogger(__name__)

# EX_SOFTWARE: an internal error. A supervisor restarts on any non-zero code.
EXIT_CODE = 70
# How long the hooks (Redis calls) may take before the process exits anyway.
_HOOKS_BUDGET_S = 3.0

_hooks: list[Callable[[], None]] = []
_exiting = threading.Lock()


def before_exit(hook: Callable[[], None]) -> None:
    """Run ``hook`` (best effort, briefly) before the process exits through ``exit_worker``."""
    _hooks.append(hook)


def _run_hooks() -> None:
    for hook in _hooks:
        try:
            hook()
        except Exception:  # exiting anyway: say so, and go on with the next hook
            log.exception("exit hook failed")


def exit_worker(reason: str) -> NoReturn:
    """Log ``reason``, run the exit hooks and end the process with ``EXIT_CODE`` at once."""
    _exiting.acquire()  # once: a second thread that gets here waits for the exit
    log.critical("worker exiting with code %d: %s", EXIT_CODE, reason)
    hooks = threading.Thread(target=_run_hooks, name="exit-hooks", daemon=True)
    hooks.start()
    hooks.join(_HOOKS_BUDGET_S)
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    # Not sys.exit: from a thread it would end that thread only, and Celery's warm shutdown
    # would wait for jobs that can no longer finish.
    os._exit(EXIT_CODE)
