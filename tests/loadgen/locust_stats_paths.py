"""Run as a script (Locust patches the interpreter with gevent on import, so never inside pytest):
the same seeded invocations counted into Locust's statistics by firing its `request` event one by one
and by simulator.loadgen.request_stats in batches; prints both as JSON for tests/loadgen/test_request_stats.py."""

import json
import random
import sys
import types

from locust import stats as locust_stats
from locust.env import Environment

from simulator.loadgen.request_stats import RequestBatch, only_locust_statistics_listen

CLOCK = types.SimpleNamespace(now=1_800_000_000.25)
locust_stats.time = types.SimpleNamespace(time=lambda: CLOCK.now)  # Locust's statistics read this clock


def invocations(seed: int, count: int) -> list[tuple[str, float, int, Exception | None]]:
    rng = random.Random(seed)
    errors = [RuntimeError("throttled: Rate Exceeded."), RuntimeError("timeout: no answer within 8 s")]
    return [(rng.choice(["invoke v1", "invoke v2", "invoke v-"]), rng.lognormvariate(1.5, 2.0),
             rng.randrange(0, 400), rng.choice(errors) if rng.random() < 0.05 else None) for _ in range(count)]


def snapshot(env: Environment) -> dict:
    stats = env.runner.stats
    entries = sorted([stats.total, *stats.entries.values()], key=lambda e: (e.name, e.method or ""))
    return {"entries": [{**e.serialize(),
                         "cache": {str(k): [dict(v.response_times), v.num_requests]
                                   for k, v in (e.response_times_cache or {}).items()}} for e in entries],
            "errors": stats.serialize_errors()}


def main() -> None:
    seed, count, cache = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "cache"
    rows = invocations(seed, count)
    rng = random.Random(seed + 1)
    one_by_one, batched = Environment(), Environment()
    for env in (one_by_one, batched):
        env.create_local_runner()
        env.runner.stats.use_response_times_cache = cache
        env.runner.stats.reset_all()
    listening = {"runner only": only_locust_statistics_listen(batched.events.request)}
    batch, start = RequestBatch("Lambda"), 0
    while start < len(rows):  # drains of random sizes, the clock moving on between them
        end = start + rng.randrange(1, 400)
        for name, response_time, length, error in rows[start:end]:
            one_by_one.events.request.fire(request_type="Lambda", name=name, response_time=response_time,
                                           response_length=length, response=None, exception=error, context={})
            batch.add(name, response_time, length, error)
        batch.log_into(batched.runner.stats, now=CLOCK.now)
        CLOCK.now += rng.choice([0.0, 0.3, 1.0, 2.5])
        start = end
    batched.events.request.add_listener(lambda **kwargs: None)
    listening["with another listener"] = only_locust_statistics_listen(batched.events.request)
    print(json.dumps({"one_by_one": snapshot(one_by_one), "batched": snapshot(batched), "listening": listening}))


if __name__ == "__main__":
    main()
