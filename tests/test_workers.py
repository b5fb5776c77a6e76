"""The workers' shared pass loop: a failing pass is logged and the loop goes on; wake cuts a wait short; stop ends it."""
import asyncio

from bot.workers import PassLoop


async def test_a_failing_pass_does_not_stop_the_loop(caplog):
    results = []
    third = asyncio.Event()

    async def run_pass():
        results.append(len(results))
        if len(results) == 1:
            raise RuntimeError("the database went away")
        if len(results) == 3:
            third.set()
        return len(results)

    loop = PassLoop("test", run_pass, lambda result: 0)
    loop.start()
    await asyncio.wait_for(third.wait(), 10)
    await loop.stop()
    await loop.stop()  # safe twice
    assert "test pass failed" in caplog.text


async def test_wake_cuts_the_idle_wait_short():
    passes = []
    second = asyncio.Event()
    idle = asyncio.Event()

    async def run_pass():
        passes.append(1)
        if len(passes) == 2:
            second.set()

    def pause(_result):
        idle.set()
        return 3600

    loop = PassLoop("test", run_pass, pause)
    loop.start()
    await asyncio.wait_for(idle.wait(), 10)  # the first pass has ended and the loop waits for an hour
    loop.wake()
    await asyncio.wait_for(second.wait(), 10)
    await loop.stop()
    assert len(passes) == 2


async def test_stop_ends_the_loop_even_when_a_wake_comes_at_the_same_moment():
    """Python 3.11's wait_for swallowed a cancel that met a finished wait: the loop ran on and stop() never returned
    (a desk that could not shut down; seen as a test teardown stuck for 600 s on PostgreSQL)."""
    passes = []
    idle = asyncio.Event()

    async def run_pass():
        passes.append(1)

    def pause(_result):
        idle.set()
        return 3600

    loop = PassLoop("test", run_pass, pause)
    loop.start()
    await asyncio.wait_for(idle.wait(), 10)
    loop.wake()  # the wait ends on the next turn, just as the cancel arrives
    async with asyncio.timeout(10):  # a guard: before the fix the loop ran on and stop() waited for ever
        await loop.stop()  # called, not scheduled: its cancel arrives in the same turn as the wake
    assert passes == [1]
