"""Weighted alias routing over HTTP: one Bernoulli draw per invocation, checked with binomial bounds."""

import asyncio
import math
from statistics import NormalDist

import aiohttp

from tests.helpers import running_emulator, weighted_stack

PATH = "/2015-03-31/functions/ConnectLambdaFunction/invocations?Qualifier=PROD"


async def executed_versions(url: str, count: int, concurrency: int = 32) -> list[str]:
    """POST Invoke `count` times on the wire and collect X-Amz-Executed-Version."""
    versions: list[str] = []
    todo = iter(range(count))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def worker():
            for _ in todo:
                async with session.post(url + PATH, data=b"{}") as response:
                    assert response.status == 200
                    versions.append(response.headers["X-Amz-Executed-Version"])
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return versions


def binomial_bound(n: int, p: float, confidence: float) -> float:
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return z * math.sqrt(n * p * (1 - p))


async def test_a_tenth_weight_routes_a_tenth_within_a_999_binomial_bound():
    n, weight = 20_000, 0.1
    with running_emulator(weighted_stack(20251123, weight), seed=None) as running:
        versions = await executed_versions(running.url, n)
    assert len(versions) == n and set(versions) == {"1", "2"}
    assert abs(versions.count("2") - n * weight) <= binomial_bound(n, weight, 0.999)


async def test_weights_zero_and_one_never_and_always_route_to_the_additional_version():
    for weight, expected in ((0.0, {"1"}), (1.0, {"2"})):
        with running_emulator(weighted_stack(5, weight), seed=None) as running:
            assert set(await executed_versions(running.url, 500)) == expected


async def test_the_same_seed_routes_the_same_sequence():
    sequences = []
    for _ in range(2):
        with running_emulator(weighted_stack(99, 0.5), seed=None) as running:
            sequences.append(await executed_versions(running.url, 200, concurrency=1))
    assert sequences[0] == sequences[1]
    assert 0 < sequences[0].count("2") < 200
