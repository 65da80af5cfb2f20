"""Contacts replaying the looping Amazon Connect flow against a Lambda alias.

    locust -f locustfiles/connect_loop.py                  # web UI on :8089, emulator started for you
    locust -f locustfiles/connect_loop.py --headless -u 20 -r 20 -t 20s

shiftsim's options (--target, --alias-arn, --endpoint-url, --flow, --scenario, --rate, ...) are in
`locust --help` and in the web UI. The user class lives in simulator.loadgen.
"""

from locust import events

from simulator.loadgen.setup import install
from simulator.loadgen.user import ContactUser

install(events)


class ConnectLoopUser(ContactUser):
    """One caller in the looping flow; each task run is one contact."""
