"""The Locust user: each one is a caller, running contacts through the flow one after another (each
from its first entry until it disconnects or has looped enough) until Locust stops it."""

from __future__ import annotations

from locust import User, constant, task


class ContactUser(User):
    abstract = True
    wait_time = constant(0)

    @task
    def contacts(self) -> None:
        self.environment.shiftsim.run_contacts()  # type: ignore[attr-defined]
