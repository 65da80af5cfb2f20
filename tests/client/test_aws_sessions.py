"""The clients' sessions: one each, with botocore's service models read once per process."""

from __future__ import annotations

from simulator.client.aws import Target, client


async def test_clients_have_sessions_of_their_own_that_read_the_service_models_once(emulator):
    target = Target("local", emulator.url)
    async with client(target, "lambda") as first, client(target, "cloudwatch") as second:
        assert first is not second
        assert first._loader is second._loader  # one loader, whose cache holds each model parsed
        assert (await first.list_functions())["Functions"] and "MetricAlarms" in await second.describe_alarms()
