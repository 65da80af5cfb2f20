"""The base of the errors a user's input raises (a flow, a scenario, a template): their message is
said as one line, so a line break the input itself brings (an action's Identifier, a key, a name) is
shown escaped, never as a second line."""

from __future__ import annotations


class InputError(ValueError):
    """A user's input that cannot be used; the message names what and where, on one line."""

    def __init__(self, message: object = "") -> None:
        super().__init__(str(message).replace("\r", "\\r").replace("\n", "\\n"))
