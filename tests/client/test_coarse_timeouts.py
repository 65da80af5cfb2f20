"""CoarseTimeouts behaves as asyncio.timeout, up to one tick late: in time, expired, nested in an
outer cancellation, many at once, zero delays; and it leaves no timer behind."""

import asyncio

import pytest

from simulator.client.coarse_timeouts import CoarseTimeouts


async def test_in_time_expired_and_zero():
    timeouts = CoarseTimeouts(tick_s=0.005)
    async with timeouts.timeout(1.0):
        await asyncio.sleep(0.01)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        async with timeouts.timeout(0.05):
            await asyncio.sleep(5)
    waited = loop.time() - started
    assert 0.05 <= waited + 0.002 and waited < 1.0  # not before its deadline (clock in ms), not the sleep
    with pytest.raises(TimeoutError):
        async with timeouts.timeout(0):
            await asyncio.sleep(5)
    async with timeouts.timeout(0):
        pass  # left before it could expire: nothing raised, and nothing cancelled later
    await asyncio.sleep(0.02)
    assert timeouts._timer is None and not timeouts._buckets


async def test_an_outer_cancel_stays_a_cancel():
    timeouts = CoarseTimeouts()
    entered = asyncio.Event()

    async def wait():
        async with timeouts.timeout(10):
            entered.set()
            await asyncio.sleep(5)

    task = asyncio.create_task(wait())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not timeouts._buckets


async def test_many_waits_each_ends_as_its_own_deadline_says():
    timeouts = CoarseTimeouts(tick_s=0.002)

    async def wait(limit, work):
        try:
            async with timeouts.timeout(limit):
                await asyncio.sleep(work)
            return "done"
        except TimeoutError:
            return "timeout"

    cases = [(0.01 + 0.001 * (i % 40), 0.0 if i % 3 else 0.2) for i in range(600)]
    results = await asyncio.gather(*(wait(limit, work) for limit, work in cases))
    assert results == ["timeout" if work > limit else "done" for limit, work in cases]
    await asyncio.sleep(0.01)
    assert timeouts._timer is None and not timeouts._buckets


async def test_a_task_that_catches_the_timeout_can_wait_again():
    timeouts = CoarseTimeouts()
    for _ in range(2):
        with pytest.raises(TimeoutError):
            async with timeouts.timeout(0.01):
                await asyncio.sleep(1)
    await asyncio.sleep(0.01)  # the task was uncancelled: an ordinary await works
    assert asyncio.current_task().cancelling() == 0


def test_one_owner_serves_a_second_loop_after_the_first_closed():
    """It keeps the loop of its last wait (asking costs a system call): a new loop is found, not the old one used."""
    timeouts = CoarseTimeouts(tick_s=0.002)

    async def expires():
        with pytest.raises(TimeoutError):
            async with timeouts.timeout(0.01):
                await asyncio.sleep(5)
        return asyncio.get_running_loop()

    first = asyncio.run(expires())
    second = asyncio.run(expires())
    assert first is not second and timeouts.loop is second
