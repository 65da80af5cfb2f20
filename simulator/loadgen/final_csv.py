"""Locust's CSV files, written once more when the run is over.

Locust's CSV writer rewrites its totals once a second and never after the last pass, so its files miss
the invocations that finished since (the final drain of finished invocations comes later still). The
totals, failures and exceptions are written again, complete, as they stand at the end; the history
file keeps its one row a second.
"""

from __future__ import annotations

import csv

from locust import stats as locust_stats
from locust.env import Environment


def write_final_csv(environment: Environment, prefix: str) -> None:
    """`<prefix>_stats.csv`, `_failures.csv` and `_exceptions.csv`, as Locust's `--csv <prefix>` names them."""
    final = locust_stats.StatsCSV(environment, locust_stats.PERCENTILES_TO_REPORT)
    for name, write in (("stats", final.requests_csv), ("failures", final.failures_csv),
                        ("exceptions", final.exceptions_csv)):
        with open(f"{prefix}_{name}.csv", "w", newline="", encoding="utf-8") as out:
            write(csv.writer(out))
