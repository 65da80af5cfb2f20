"""The emulator's flow log route (`POST /_shiftsim/connect/flow-logs`), on the lean HTTP/1.1 client:
the simulated Connect instance hands its flow log entries to the emulator as compact notes
(simulator.deployment.flow_log_notes), and the emulator makes them text in its log group, as Connect
writes its own logs inside AWS. Against AWS nothing is sent (the simulator is not Connect there).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from simulator.client.request_templates import origin_for
from simulator.deployment.admin_token import ADMIN_TOKEN_HEADER

PATH = "/_shiftsim/connect/flow-logs"


class FlowLogNotesRefused(Exception):
    """The emulator refused a body of notes: its status and what it said."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"the emulator refused the flow logs ({status}): {message}")
        self.status, self.message = status, message


class FlowLogNotesSender:
    """Bodies of notes to one emulator, one request at a time on one keep-alive connection."""

    def __init__(self, endpoint_url: str, socket_factory: Callable[..., Any] | None = None,
                 admin_token: str | None = None) -> None:
        self.origin = origin_for(endpoint_url, 1, socket_factory)
        host = urlsplit(endpoint_url).netloc
        token = f"{ADMIN_TOKEN_HEADER}: {admin_token}\r\n" if admin_token else ""
        self.head = f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{token}"

    async def send(self, body: bytes) -> None:
        """Send one body; FlowLogNotesRefused if refused, OSError if no answer."""
        response = await self.origin.request(f"{self.head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        if response.status >= 300:
            try:
                said = json.loads(response.body).get("error") or response.body[:300].decode(errors="replace")
            except (ValueError, AttributeError):
                said = response.body[:300].decode(errors="replace")
            raise FlowLogNotesRefused(response.status, said)

    def close(self) -> None:
        self.origin.close()
