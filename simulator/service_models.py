"""botocore's service models and endpoint data, read once per process by whoever needs them (the
scenario's vocabulary, the emulator's checks of what AWS accepts): one botocore session serves them
all, since each session parses a model's JSON again."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def models_session() -> Any:
    """The process's botocore session for reading models and endpoint data (never for a client)."""
    import botocore.session

    return botocore.session.get_session()


@cache
def service_model(service: str) -> Any:
    """botocore's model of `service` ("cloudwatch", "lambda", ...)."""
    return models_session().get_service_model(service)
