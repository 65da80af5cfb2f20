"""The Locust user: each one is a caller; each task run is one contact through the flow, from its
first entry until it disconnects or has looped enough, then a new contact starts."""

from __future__ import annotations

from locust import User, constant, task


class ContactUser(User):
    abstract = True
    wait_time = constant(0)

    @task
    def contact(self) -> None:
        self.environment.shiftsim.run_contact()  # type: ignore[attr-defined]
