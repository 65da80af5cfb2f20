"""What the simulated Connect instance could not publish to the emulator during a test (its flow logs,
its AWS/Connect metrics), gathered from this process and, on a master, from its workers' reports; and
which of the deployment group's alarms read it. An alarm that read nothing did not rehearse its part
(the rollback it guards), so the run's verdict is withheld then (simulator.report.verdict); what no
alarm reads is said in the summary.
"""

from __future__ import annotations

from typing import Any

from simulator.deployment.alarm_inputs import alarms_reading_the_instance
from simulator.scenario.spec import Scenario

Unpublished = dict[str, list[Any]]  # ConnectTelemetry.unpublished: what -> [failed flushes, the first error]


class UnpublishedReports:
    def __init__(self) -> None:
        self.by_worker: dict[str, Unpublished] = {}  # each worker's as it last reported it (a running total)

    def clear(self) -> None:
        self.by_worker.clear()

    def heard(self, worker: str, unpublished: Unpublished | None) -> None:
        if unpublished:
            self.by_worker[worker] = unpublished

    def run_info(self, scenario: Scenario, here: Unpublished | None) -> dict[str, dict[str, Any]]:
        """For run.json: by what it is, the flushes that failed, the first error, and the group's alarms
        that read it; empty when everything was published."""
        merged: dict[str, dict[str, Any]] = {}
        for unpublished in (*self.by_worker.values(), here or {}):
            for what, (failed, first) in unpublished.items():
                noted = merged.setdefault(what, {"failed_flushes": 0, "first_error": first})
                noted["failed_flushes"] += int(failed)
        if merged:
            reading = alarms_reading_the_instance(scenario)
            for what, noted in merged.items():
                noted["read_by"] = sorted(name for name, kinds in reading.items() if what in kinds)
        return merged
