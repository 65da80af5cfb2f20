"""The run's record: one row per invocation, appended and flushed in batches, so a run killed at
any moment leaves a readable record up to its last batch. Rows from distributed workers are merged
by the master, which is the only writer.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

COLUMNS = ("intended", "start", "end", "emulated", "contact", "loop", "action", "qualifier",
           "version", "outcome", "reason", "retries", "status", "injected", "late", "worker")


def new_run_id() -> str:
    import time
    import uuid

    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]


class RecordWriter:
    """Appends invocation rows (tuples in COLUMNS order) to `invocations.csv` of a run folder."""

    def __init__(self, folder: Path, batch: int = 512) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "invocations.csv"
        fresh = not self.path.exists()
        self._file = self.path.open("a", newline="", encoding="utf-8")
        self._csv = csv.writer(self._file)
        if fresh:
            self._csv.writerow(COLUMNS)
        self.pending: list[Any] = []
        self.batch = batch
        self.rows = 0
        self.timeline = (folder / "timeline.jsonl").open("a", encoding="utf-8")

    def add(self, rows: list[Any]) -> None:
        self.pending.extend(rows)
        self.rows += len(rows)
        if len(self.pending) >= self.batch:
            self.flush()

    def event(self, event: dict[str, Any]) -> None:
        self.timeline.write(json.dumps(event) + "\n")
        self.timeline.flush()

    def flush(self) -> None:
        if self.pending:
            self._csv.writerows(self.pending)
            self.pending.clear()
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self.flush()
        self._file.close()
        self.timeline.close()


def read_record(folder: Path) -> list[dict[str, str]]:
    with (folder / "invocations.csv").open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))
