"""The Locust user: each one is a caller, running contacts through the flow one after another (each
from its first entry until it disconnects or has looped enough) until Locust stops it."""

from __future__ import annotations

import gevent
from locust import User, constant, task
from locust.exception import StopUser

READY_TIMEOUT_S = 60.0


class ContactUser(User):
    abstract = True
    wait_time = constant(0)

    @task
    def contacts(self) -> None:
        session = self._session()
        session.run_contacts()

    def _session(self):  # noqa: ANN202 - the LoadSession, once this process has set it up
        waited = 0.0
        while getattr(self.environment, "shiftsim", None) is None or not self.environment.shiftsim.ready.is_set():
            if waited >= READY_TIMEOUT_S:  # bounded: a worker whose init failed stops its users
                raise StopUser()
            gevent.sleep(0.05)
            waited += 0.05
        return self.environment.shiftsim
