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
