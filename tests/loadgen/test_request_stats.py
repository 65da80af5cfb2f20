"""Batched invocations give Locust's statistics exactly what firing its `request` event one by one
gives, through real Locust (in a subprocess: it patches the interpreter with gevent on import)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT


def both_paths(seed: int, count: int, cache: bool) -> dict:
    done = subprocess.run([sys.executable, str(Path(__file__).parent / "locust_stats_paths.py"), str(seed), str(count),
                           "cache" if cache else "plain"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("cache", [False, True])  # True: the web UI's current percentiles
def test_batches_count_what_events_one_by_one_count(cache):
    result = both_paths(seed=7, count=20_000, cache=cache)
    one_by_one, batched = result["one_by_one"], result["batched"]
    names = [e["name"] for e in one_by_one["entries"]]
    assert names == ["Aggregated", "invoke v-", "invoke v1", "invoke v2"]
    assert sum(e["num_failures"] for e in one_by_one["entries"][1:]) > 0
    assert len(one_by_one["entries"][0]["response_times"]) > 100   # buckets from 0 to tens of seconds
    if cache:
        assert len(one_by_one["entries"][0]["cache"]) > 5         # snapshots as seconds went by
    assert batched == one_by_one


def test_batching_only_when_locust_statistics_are_the_one_listener():
    listening = both_paths(seed=1, count=10, cache=False)["listening"]
    assert listening == {"runner only": True, "with another listener": False}
