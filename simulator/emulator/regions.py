"""State per region, as AWS keeps it: a request is served by the region its SigV4 credential scope
names (the scenario's region when unsigned). The scenario's stack lives in its own region; any
other starts empty, on the same clock, the first time a request names it."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from functools import cache
from typing import Any, Generic, Protocol, TypeVar

from simulator.emulator.holdings import CEILINGS, Full, Holdings
from simulator.scenario.spec import Scenario
from simulator.service_models import models_session


class RegionalEmulator(Protocol):
    """What Regions needs of one region's emulator (server.Emulator is one)."""

    scenario: Scenario
    lambda_: Any
    holdings: Holdings

    def start(self) -> None: ...

    def close(self) -> None: ...


Emulator = TypeVar("Emulator", bound=RegionalEmulator)

@cache
def partition_of(region: str) -> str:
    """The ARN partition a region belongs to (aws, aws-cn, aws-us-gov, ...), from botocore's endpoint data."""
    import botocore.exceptions

    try:
        return models_session().get_partition_for_region(region)  # type: ignore[no-any-return]
    except botocore.exceptions.UnknownRegionError:
        return "aws"


current_region: ContextVar[str | None] = ContextVar("current_region", default=None)


def region_of(authorization: str | None) -> str | None:
    """The region of a SigV4 Authorization header's credential scope, or None."""
    if not authorization:
        return None
    at = authorization.find("Credential=")  # string operations, not a pattern: every Invoke passes here
    parts = authorization[at + 11:].split("/", 3) if at >= 0 else []
    return parts[2] if len(parts) == 4 and parts[2] else None


class Regions(Generic[Emulator]):
    def __init__(self, home: Emulator, make: Callable[[Scenario], Emulator], ceiling: int = CEILINGS["regions"]) -> None:
        self.home, self.make, self.ceiling = home, make, ceiling
        self.emulators: dict[str, Emulator] = {home.scenario.region: home}

    def get(self, region: str | None = None) -> Emulator:
        """The emulator of `region` (default: the request's), made empty and started on first use."""
        region = region or current_region.get() or self.home.scenario.region
        emulator = self.emulators.get(region)
        if emulator is None:
            if len(self.emulators) >= self.ceiling:  # a region per request would fill the emulator
                self.home.holdings.refused["regions"] += 1
                raise Full("regions", self.ceiling)
            home = self.home.scenario
            emulator = self.make(Scenario(name=f"{home.name} ({region})", region=region, account=home.account,
                                          account_concurrency=home.account_concurrency, emulator=home.emulator,
                                          source=home.source))
            emulator.lambda_.endpoint_url = self.home.lambda_.endpoint_url
            emulator.start()
            self.emulators[region] = emulator
        return emulator

    def close(self) -> None:
        for emulator in self.emulators.values():
            if emulator is not self.home:
                emulator.close()
