"""The open-model pacer's tickets and the prompt-time distributions, on their own (the Locust tests
check the rate they give end to end)."""

import asyncio
import math
import random
import time
from dataclasses import replace

import pytest

from simulator.loadgen.options import LoadOptions
from simulator.loadgen.pacing import Pacer, mean_duration, parse_duration_distribution
from simulator.scenario.durations import DistributionError


class FakeNow:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


async def test_tickets_are_spaced_at_the_rate_and_lateness_is_counted():
    now = FakeNow(1000.0)
    pacer = Pacer(rate=1000, late_threshold_s=0.02, now=now, coalesce_s=0.001)
    first, second = await pacer.ticket(), await pacer.ticket()
    assert (first.intended, second.intended) == (1000.0, 1000.001)  # within the coalescing window: no wait
    assert not first.late and first.lag == 0.0
    now.t = 1000.5  # the generator fell half a second behind: the next ticket is late by that much
    third = await pacer.ticket()
    assert third.intended == pytest.approx(1000.002)
    assert third.late and third.lag == pytest.approx(0.498)


async def test_a_ticket_in_the_future_waits_for_its_time():
    now = FakeNow(1000.0)  # stands still while the pacer sleeps 10 ms for real: it measures no lag
    pacer = Pacer(rate=100, now=now, coalesce_s=0.001)
    first, second = await pacer.ticket(), await pacer.ticket()
    assert second.intended - first.intended == pytest.approx(0.01)
    assert (second.lag, second.late) == (0.0, False)


async def test_a_restart_drops_the_backlog_and_the_schedule_starts_from_now():
    now = FakeNow(1000.0)
    pacer = Pacer(rate=1000, late_threshold_s=0.02, now=now)
    await pacer.ticket()
    now.t = 1001.0  # a second with no taker (users still ramping up): a thousand starts behind
    assert (await pacer.ticket()).late
    pacer.restart()  # all users are there
    on_time = await pacer.ticket()
    assert (on_time.intended, on_time.lag, on_time.late) == (1001.0, 0.0, False)
    assert (await pacer.ticket()).intended == pytest.approx(1001.001)


async def test_without_a_rate_every_ticket_is_at_once():
    pacer = Pacer(rate=0, now=FakeNow(5.0))
    assert [(t.intended, t.late) for t in [await pacer.ticket(), await pacer.ticket()]] == [(5.0, False)] * 2


@pytest.mark.parametrize("spec,bad", [("fixed", "expected fixed:S"), ("uniform:1:x", "numbers expected"),
                                      ("exp:-1", "cannot be negative"), ("uniform:2:1", "expected fixed:S"),
                                      ("poisson:1", "expected fixed:S")])
def test_bad_prompt_times_say_what_is_wrong(spec, bad):
    with pytest.raises(DistributionError, match=bad):
        parse_duration_distribution(spec, random.Random(0))


@pytest.mark.parametrize("spec,mean", [("fixed:0.3", 0.3), ("uniform:0.2:0.6", 0.4), ("exp:2", 2.0),
                                       ("normal:1:0.5", 1.0)])
def test_the_mean_prompt_time(spec, mean):
    assert mean_duration(spec) == pytest.approx(mean)


def options(seed):
    return LoadOptions(target="local", alias_arn="", endpoint_url="", region="us-east-1", flow=None,
                       functions=None, scenario=None, scenario_path="", rate=0.0, contacts_per_minute=0.0,
                       max_contacts_per_second=0.0, traffic_profile=None, start_time="12:00", loops_per_contact=1,
                       contact_duration=0.0, max_invocations_per_contact=1000, max_contact_seconds=3600.0,
                       prompt_time="uniform:0.2:0.6", seed=seed, time_scale=None, deploy_after=None,
                       late_threshold_s=0.02, results_dir=None)


def test_seeded_prompt_times_repeat_per_contact_and_unseeded_ones_vary():
    seeded = options(7)
    draws = [seeded.prompt_sampler(contact)() for contact in (1, 2, 1)]
    assert draws[0] == draws[2] != draws[1]
    assert all(0.2 <= d <= 0.6 for d in draws)
    unseeded = replace(seeded, seed=None)
    assert len({unseeded.prompt_sampler(contact)() for contact in range(20)}) == 20


async def test_tickets_due_in_the_same_slot_wait_on_one_timer_and_start_within_half_a_slot():
    loop = asyncio.get_running_loop()
    timers = []
    real_call_later = loop.call_later

    def counting_call_later(delay, callback, *args):
        timers.append(delay)
        return real_call_later(delay, callback, *args)

    loop.call_later = counting_call_later
    # The pacer's clock stands at the real time the test starts: which tickets wait, and in which slot,
    # follows from the rate alone, while the waits themselves run on the real clock.
    slot = 0.0101  # ~20 tickets a slot; no ticket within float rounding of the coalescing bound
    pacer = Pacer(rate=2000, now=FakeNow(time.time()), coalesce_s=slot)

    async def started():
        ticket = await pacer.ticket()
        return ticket, time.time()

    try:
        starts = await asyncio.gather(*(started() for _ in range(200)))  # 100 ms of starts
    finally:
        del loop.call_later
    first = min(t.intended for t, _ in starts)
    waited = [(t, woken) for t, woken in starts if t.intended - first > slot]  # the rest start at once
    assert len(waited) == 179
    assert len(timers) == len({math.floor(t.intended / slot) for t, _ in waited})  # one per slot
    for ticket, woken in waited:  # never more than half a slot early (lateness is the clock's, counted)
        assert woken >= ticket.intended - slot / 2 - 0.001


async def test_a_cancelled_waiter_leaves_the_others_in_its_slot_waiting():
    # 2 s of starts at 20 a second in slots of 1 s (about 20 waiters each): the cancelled one's slot wakes
    # at least 0.75 s on, long after the cancel on any machine (at 1,000 a second in slots of 20 ms it
    # woke 25 ms on, and a starved machine had woken it before the cancel)
    pacer = Pacer(rate=20, coalesce_s=1.0)
    await pacer.ticket()
    waiters = [asyncio.create_task(pacer.ticket()) for _ in range(40)]
    await asyncio.sleep(0)
    waiters[25].cancel()
    done = await asyncio.gather(*waiters, return_exceptions=True)
    assert isinstance(done[25], asyncio.CancelledError)
    assert all(not isinstance(t, BaseException) for i, t in enumerate(done) if i != 25)


async def test_a_new_rate_takes_the_waiting_tickets_again_in_their_order():
    """Users queued for their turn hold tickets spaced by the old rate: production's evening came
    tens of emulated seconds late. A lower rate spaces them anew from the earliest; a higher one
    brings them forward."""
    now = FakeNow(1000.0)  # stands still (the slots' timers are real): a loaded machine moves nothing
    pacer = Pacer(rate=100, now=now, coalesce_s=0.001)  # 10 ms apart
    first = await pacer.ticket()
    waiting = [asyncio.ensure_future(pacer.ticket()) for _ in range(4)]
    await asyncio.sleep(0)  # each has its time and waits for it
    pacer.set_rate(10)  # 100 ms apart from now on
    later = [ticket.intended for ticket in await asyncio.wait_for(asyncio.gather(*waiting), 30)]
    assert later == sorted(later) and later[0] - first.intended == pytest.approx(0.01, abs=0.002)
    assert all(b - a == pytest.approx(0.1) for a, b in zip(later, later[1:], strict=False))
    slow = Pacer(rate=2, now=now, coalesce_s=0.001)  # 500 ms apart
    start = (await slow.ticket()).intended
    waiting = [asyncio.ensure_future(slow.ticket()) for _ in range(3)]
    await asyncio.sleep(0)
    slow.set_rate(1000)
    sooner = [ticket.intended for ticket in await asyncio.wait_for(asyncio.gather(*waiting), 30)]
    assert all(t - start < 0.5 for t in sooner) and sooner == sorted(sooner)


async def test_a_rate_of_none_holds_every_ticket_until_a_rate_is_set_again():
    """Outside every span of a profile that gives no default, production has no arrivals: none start
    (a rate of 0 used to mean unpaced, and contacts started as fast as the users could)."""
    pacer = Pacer(rate=100, coalesce_s=0.001)
    await pacer.ticket()
    pacer.set_rate(0)
    held = [asyncio.ensure_future(pacer.ticket()) for _ in range(3)]
    done, _ = await asyncio.wait(held, timeout=0.2)
    assert not done  # none started while the rate was none
    resumed_at = time.time()
    pacer.set_rate(1000)
    tickets = await asyncio.wait_for(asyncio.gather(*held), 30)
    assert all(t.intended >= resumed_at - 0.001 for t in tickets)
    assert Pacer(rate=0).paused is False and (await Pacer(rate=0).ticket()).lag == 0.0  # unpaced from the start
