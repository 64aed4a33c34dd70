"""The batch runner's shutdown: it ends however its step behaves, so an API process (or a test's
app) never hangs in its lifespan waiting for it."""

import asyncio
import contextlib
import threading
import time

from api.core.config import ApiSettings
from api.openai.batches import runner as runner_module
from api.openai.batches.runner import BatchRunner


def test_the_runner_stops_even_when_a_step_swallows_its_cancel(monkeypatch):
    """A cancel can be lost inside a library call (Python 3.11's ``wait_for`` drops one that
    lands as its call completes); a runner that only cancelled stepped on forever, and its
    app's shutdown with it (seen in a full run)."""
    monkeypatch.setattr(runner_module, "STOP_GRACE_S", 0.2)
    steps = []

    async def step_all() -> None:
        steps.append(time.monotonic())
        with contextlib.suppress(asyncio.CancelledError):  # lost, as inside the library
            await asyncio.sleep(3600)

    async def scenario() -> tuple[float, bool]:
        settings = ApiSettings(_env_file=None, batch_step_s=0.05)
        runner = BatchRunner(settings, None, None, None, None, {})  # type: ignore[arg-type]
        monkeypatch.setattr(runner, "step_all", step_all)
        runner.start()
        await asyncio.sleep(0.1)
        began = time.monotonic()
        await runner.stop()
        assert runner._task is not None
        return time.monotonic() - began, runner._task.done()

    # In a thread of its own: a runner that never stops would hang this test's event loop (and
    # asyncio.run's cleanup) rather than fail it.
    answers = []
    thread = threading.Thread(target=lambda: answers.append(asyncio.run(scenario())), daemon=True)
    thread.start()
    thread.join(15)
    assert not thread.is_alive(), "the runner's stop() did not return"
    ((took, done),) = answers
    assert done and took < 2, took
    assert len(steps) == 1  # the loop saw it should stop: no step after the lost cancel
