"""What the Connect instance reports about its contacts, as Connect reports it: flow log entries
(`/aws/connect/<alias>`) and the AWS/Connect metrics `ContactFlowErrors` (an error branch taken)
and `ContactFlowFatalErrors` (a flow that could not go on), with Connect's dimensions, in emulated
time. Entries and counts gather on the contacts' loop and go to the emulator's CloudWatch Logs and
CloudWatch every few emulated seconds; flow logs also go to the run folder (`flow_logs.jsonl`). A sampled
contact stands for `weight` production contacts: its metrics count that many, and its log events
carry the weight, which metric filters count. Against AWS nothing is published (the simulator is
not Connect there): the run folder has the flow logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import orjson

from simulator.connect.flow import Action, Flow
from simulator.connect.flow_log import block_entry, flow_arn
from simulator.connect.interpreter import ContactState
from simulator.connect.invoke import InvokeOutcome
from simulator.emulator_vocabulary import WEIGHT_HEADER
from simulator.scenario import ConnectInstance

log = logging.getLogger("shiftsim")
FLUSH_EVERY_EMULATED_S = 5.0  # Connect's reports reach CloudWatch within seconds, in emulated time too
LOG_BATCH = 5_000  # PutLogEvents takes 10,000 events and 1 MB: flow log entries are under 200 bytes


class ConnectTelemetry:
    def __init__(self, instance: ConnectInstance, *, region: str, account: str, now: Callable[[], float],
                 weight: float = 1.0, folder: Path | None = None, publish: bool = True,
                 time_scale: float = 1.0) -> None:
        self.instance, self.region, self.account, self.now = instance, region, account, now
        self.weight, self.publish = weight, publish
        self.flush_every = min(1.0, max(0.05, FLUSH_EVERY_EMULATED_S / time_scale))  # real seconds
        self.entries: list[tuple[float, dict[str, Any]]] = []  # (emulated time, entry)
        self.counts: Counter[tuple[str, str, int]] = Counter()  # (metric, flow name, emulated second)
        self.arns: dict[str, str] = {}
        self.file: TextIO | None = None
        if folder is not None and instance.flow_logs:
            self.file = (folder / "flow_logs.jsonl").open("a", encoding="utf-8")
        self.stream = f"{instance.instance_id}"
        self.ready = False
        self.failures = 0

    def block_ran(self, flow: Flow, action: Action, state: ContactState, outcome: InvokeOutcome | None,
                  fault: str | None) -> None:
        """The interpreter's hook: a block ran (its error branch taken when `fault` or a failed outcome)."""
        at = self.now()
        if fault is not None or (outcome is not None and not outcome.ok):
            self.counts[("ContactFlowErrors", flow.name, int(at))] += 1
        if not (self.instance.flow_logs and state.flow_logging):
            return
        arn = self.arns.get(flow.id)
        if arn is None:
            arn = self.arns[flow.id] = flow_arn(self.region, self.account, self.instance.instance_id, flow)
        entry = block_entry(contact_id=state.contact.contact_id, flow=flow, flow_id=arn, action=action, at=at,
                            outcome=outcome, fault=fault)
        self.entries.append((at, entry))
        if self.file is not None:
            try:
                self.file.write(orjson.dumps(entry).decode() + "\n")
            except ValueError:  # closed as the run ends, under a contact still finishing
                pass

    def contact_ended(self, flow_name: str, how: str) -> None:
        if how == "error":  # no error branch to take: the flow could not go on
            self.counts[("ContactFlowFatalErrors", flow_name, int(self.now()))] += 1

    async def run(self, logs_client: Any, cloudwatch_client: Any) -> None:
        """Publish what gathered every few emulated seconds, until cancelled (then once more)."""
        if self.weight != 1.0:
            weight = f"{self.weight:.6g}"
            logs_client.meta.events.register("before-sign.logs.PutLogEvents",
                                              lambda request, **kwargs: request.headers.__setitem__(WEIGHT_HEADER, weight))
        try:
            while True:
                await asyncio.sleep(self.flush_every)
                await self.flush(logs_client, cloudwatch_client)
        finally:  # what gathered since the last flush, if the emulator still answers within a second or two
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self.flush(logs_client, cloudwatch_client)), 2.0)

    async def flush(self, logs_client: Any, cloudwatch_client: Any) -> None:
        if self.file is not None:
            self.file.flush()
        entries, self.entries = self.entries, []
        counts, self.counts = self.counts, Counter()
        if not self.publish:
            return
        try:
            if entries:
                await self._put_logs(logs_client, entries)
            if counts and self.instance.metrics:
                await self._put_metrics(cloudwatch_client, counts)
        except Exception as exc:  # a publishing failure is said, never a contact's failure
            self.failures += 1
            if self.failures == 1:
                log.warning("shiftsim: the Connect instance's logs and metrics could not be published: %s", exc)

    async def _put_logs(self, client: Any, entries: list[tuple[float, dict[str, Any]]]) -> None:
        if not self.ready:
            for call, kwargs in ((client.create_log_group, {"logGroupName": self.instance.log_group}),
                                 (client.create_log_stream, {"logGroupName": self.instance.log_group,
                                                             "logStreamName": self.stream})):
                try:
                    await call(**kwargs)
                except client.exceptions.ResourceAlreadyExistsException:
                    pass
            self.ready = True
        events = [{"timestamp": int(at * 1000), "message": orjson.dumps(e).decode()}
                  for at, e in sorted(entries, key=lambda pair: pair[0])]
        for start in range(0, len(events), LOG_BATCH):
            await client.put_log_events(logGroupName=self.instance.log_group, logStreamName=self.stream,
                                        logEvents=events[start:start + LOG_BATCH])

    async def _put_metrics(self, client: Any, counts: Counter[tuple[str, str, int]]) -> None:
        data = [{"MetricName": metric, "Timestamp": second, "Unit": "Count", "Values": [1.0], "Counts": [n * self.weight],
                 "Dimensions": [{"Name": "InstanceId", "Value": self.instance.instance_id},
                                {"Name": "MetricGroup", "Value": "ContactFlow"},
                                {"Name": "ContactFlowName", "Value": flow}]}
                for (metric, flow, second), n in counts.items()]
        for start in range(0, len(data), 1000):
            await client.put_metric_data(Namespace="AWS/Connect", MetricData=data[start:start + 1000])

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

