"""This process's callers, its Locust users: each runs contacts through the flows one after another on
the bridge's loop (no round trip to Locust's hub between two), started at production's arrival times
when the load has them. And what their contacts came to: each contact's end for the record, how long
they last and how many waited (the users a rehearsal adds), and the load's schedule kept or not
(production's arrivals, or Locust's --rate), live: the figure the summary judges over the deployment."""

from __future__ import annotations

import random
import time
from collections import deque
from typing import Any

from simulator.client.fast_ids import random_uuid4
from simulator.connect.caller import CallerModel, CallerSpec
from simulator.connect.event import Contact
from simulator.connect.flow import FlowSet
from simulator.connect.interpreter import ContactLimits, ContactState, run_contact
from simulator.deployment.arn import parse_function_name
from simulator.loadgen.contact_hooks import ContactHooks, ContactPath
from simulator.loadgen.options import LoadOptions
from simulator.loadgen.pacing import Pacer
from simulator.loadgen.traffic import TrafficPlan, users_for


class Callers:
    """Contacts as the users run them, and their counts (the loop's thread writes them; others read)."""

    def __init__(self, flows: FlowSet, spec: CallerSpec, instance_arn: str, node: str,
                 ended: deque[dict[str, Any]]) -> None:
        self.flows, self.spec, self.instance_arn, self.node = flows, spec, instance_arn, node
        self.ended = ended  # each contact's end, for the record
        # the test's, from its start (test_started)
        self.options: LoadOptions | None = None
        self.path: ContactPath | None = None
        self.arrivals: Pacer | None = None  # contact starts at production's rate, or None: at once
        self.traffic: TrafficPlan | None = None
        self.emulated_start = 0.0
        self.share = 1.0  # of production's arrivals this process starts (one of Locust's --processes or workers)
        self.contact_counter = 0
        self.contacts_running = 0  # contacts in progress (one per busy user)
        self.contacts_peak = 0  # the most at once: with arrivals waiting, the users there were
        self.late_starts = 0  # contacts that started after their arrival time
        self._late_seen = 0
        self.contacts_started = 0  # contacts that reached their arrival time and began
        # (when, what had started) as the users were all there: emulated time and contacts with production's
        # arrivals, real time and the pacer's starts with --rate
        self._delivered_from: tuple[float, int] | None = None
        self._stopped_at: float | None = None  # on the same clock, as the test began to stop: nothing is due after
        self.contact_seconds, self.contacts_done = 0.0, 0  # the real length of finished contacts
        # Contact ids as Connect's (UUID4), from this process's own generator (made after Locust's
        # --processes forks, so processes never share a sequence): no system call per contact
        self.contact_ids = random.Random()
        self.qualifiers: dict[str, str] = {}  # function ARN -> the qualifier recorded for it

    def test_started(self, options: LoadOptions, path: ContactPath, arrivals: Pacer | None,
                     traffic: TrafficPlan | None, emulated_start: float, processes: int) -> None:
        self.options, self.path, self.arrivals, self.traffic = options, path, arrivals, traffic
        self.emulated_start, self.share = emulated_start, 1.0 / processes
        self.contacts_started, self._delivered_from, self._stopped_at = 0, None, None

    def arrivals_began(self) -> None:
        """All the users are there: what is due counts from now, as the schedule of starts does."""
        path = self.path
        if path is None:
            return
        if self.traffic is not None:  # production's arrivals, in emulated time
            self._delivered_from = (path.clock.now(), self.contacts_started)
        elif path.pacer.rate > 0:  # Locust's --rate, in real seconds
            self._delivered_from = (time.monotonic(), path.pacer.started)

    def test_stopping(self) -> None:
        """The users are about to be stopped: from now on nothing more is due (nor starts)."""
        if self.path is not None and self._stopped_at is None:
            self._stopped_at = self.path.clock.now() if self.traffic is not None else time.monotonic()

    def delivered_so_far(self) -> tuple[int, float, str] | None:
        """This process's share of the load's schedule since the users were all there: (started, due,
        "contacts" or "invocations"), production's arrivals or the invocations of Locust's --rate, the
        live figure of what the summary judges over the deployment (report.analysis.delivered_load).
        None with neither, or before the users are there."""
        path, options = self.path, self.options
        if self._delivered_from is None or path is None or options is None:
            return None
        since, already = self._delivered_from
        if self.traffic is None:
            now = self._stopped_at if self._stopped_at is not None else time.monotonic()
            return path.pacer.started - already, path.pacer.rate * (now - since), "invocations"
        profile = options.traffic_profile
        now = self._stopped_at if self._stopped_at is not None else path.clock.now()
        if profile is not None:
            due = profile.contacts_between(options.start_time, since - self.emulated_start, now - self.emulated_start)
        else:
            due = self.traffic.contacts_per_minute / 60.0 * (now - since)
        return self.contacts_started - already, due / self.traffic.weight * self.share, "contacts"

    @property
    def mean_contact_seconds(self) -> float | None:
        """The real length of the finished contacts, on average (None before the first)."""
        return self.contact_seconds / self.contacts_done if self.contacts_done else None

    def callers_needed(self, users: int) -> int | None:
        """The users production's arrivals need, when they waited for a caller since last asked
        (contacts started late while every one of the `users` was in a contact: contacts last longer
        than planned, their invocations slower), sized as the plan sizes them, by the contacts'
        measured length. None when the `users` are enough."""
        late, self._late_seen = self.late_starts - self._late_seen, self.late_starts
        mean = self.mean_contact_seconds
        if not late or self.contacts_running < users or mean is None or self.arrivals is None:
            return None
        needed = users_for(self.arrivals.rate, mean)
        return needed if needed > users else None

    def qualifier(self, arn: str) -> str:
        """The record's `Function:qualifier` for a block's function ARN (computed once per ARN)."""
        qualifier = self.qualifiers.get(arn)
        if qualifier is None:
            ref = parse_function_name(arn)
            qualifier = self.qualifiers[arn] = f"{ref.name}:{ref.qualifier}"
        return qualifier

    async def run(self) -> None:
        """One caller: contact after contact until Locust stops its user (which cancels this)."""
        while True:
            self.contact_counter += 1
            late, lag = False, 0.0
            if self.arrivals is not None:  # production's arrival rate: the contact starts at its time
                ticket = await self.arrivals.ticket()
                late, lag = ticket.late, ticket.lag
                self.late_starts += late
                self.contacts_started += 1
            self.contacts_running += 1
            self.contacts_peak = max(self.contacts_peak, self.contacts_running)
            began = time.monotonic()
            try:
                await self.contact(self.contact_counter, late, lag)
            finally:
                self.contacts_running -= 1
                self.contact_seconds += time.monotonic() - began
                self.contacts_done += 1

    async def contact(self, number: int, late: bool = False, lag: float = 0.0) -> str:
        """One contact, from its first flow entry to its end (said in `ended`); how it ended."""
        options, path = self.options, self.path
        assert options is not None and path is not None  # (users start once the test has)
        state = ContactState(Contact(contact_id=random_uuid4(self.contact_ids), channel="CHAT",
                                     instance_arn=self.instance_arn))
        hooks = ContactHooks(path, state, options.prompt_sampler(number))
        deadline = time.monotonic() + options.contact_duration if options.contact_duration else None

        def keep_going(s: ContactState) -> bool:
            return s.entries <= options.loops_per_contact and (deadline is None or time.monotonic() < deadline)

        started = time.monotonic()
        limits = ContactLimits(max_invocations=options.max_invocations_per_contact,
                               too_long=lambda: time.monotonic() - started > options.max_contact_seconds)
        caller = CallerModel(self.spec, random.Random(f"{options.seed}/{self.node}/{number}")
                             if options.seed is not None else self.contact_ids)
        hooks.started = path.clock.now()
        ended = await run_contact(self.flows, state, hooks, keep_going=keep_going, limits=limits, caller=caller)
        if path.telemetry is not None:
            path.telemetry.contact_ended(state.last[0], ended)
        met: dict[str, list[str]] = {}
        for arn, version in sorted(state.met):
            met.setdefault(self.qualifier(arn), []).append(version)
        self.ended.append({"contact": state.contact.contact_id, "t": path.clock.now(), "outcome": ended,
                           "last": list(state.last), "invocations": state.invocations, "errors": state.errors,
                           "flow_errors": [list(e) for e in state.flow_errors], "met": met,
                           "worker": self.node, "late": late, "lag_s": round(lag, 4), "started": hooks.started,
                           **({"result": hooks.result, "result_s": hooks.result_s}
                              if options.result_attribute else {})})
        return ended
