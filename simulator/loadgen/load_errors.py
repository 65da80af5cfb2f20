"""Errors raised in the users' tasks: shiftsim's own or a locustfile's, never the deployment's. A run
that met one is not the scenario's load (contacts broke off), so its verdict is withheld
(report.analysis); each is counted by its type and message, a worker's sent to the master with its
rows, and Locust's log keeps the first traceback of each rather than one at every contact."""

from __future__ import annotations

import collections
import logging
from typing import Any

LOCUST_TASK_LOGGER = "locust.user.task"  # where Locust logs a task's error, with its traceback


def error_key(exception: BaseException) -> str:
    return f"{type(exception).__name__}: {exception}"[:300]


class LoadErrors:
    def __init__(self, *, worker: bool) -> None:
        self.worker = worker
        self.counts: collections.Counter[str] = collections.Counter()
        self.unsent: collections.Counter[str] = collections.Counter()  # a worker's, for its next report

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def heard(self, exception: BaseException, **kwargs: Any) -> None:
        """Locust's `user_error` event (fired before Locust logs the error)."""
        error = error_key(exception)
        self.counts[error] += 1
        if self.worker:
            self.unsent[error] += 1

    def first_of_each(self, record: logging.LogRecord) -> bool:
        """A logging filter: the first traceback of each error passes; the count is in the summary."""
        args = record.args if isinstance(record.args, tuple) else ()
        return not (args and isinstance(args[0], BaseException) and self.counts[error_key(args[0])] > 1)

    def clear(self) -> None:
        """A new test (a web UI's next one) starts with none."""
        self.counts.clear()
        self.unsent.clear()

    def take_unsent(self) -> dict[str, int]:
        unsent = dict(self.unsent)
        self.unsent.clear()
        return unsent

    def merge(self, reported: dict[str, int] | None) -> None:
        self.counts.update(reported or {})

    def listed(self) -> list[dict[str, Any]]:
        """As run.json keeps them, the most frequent first."""
        return [{"error": error, "count": n} for error, n in self.counts.most_common()]
