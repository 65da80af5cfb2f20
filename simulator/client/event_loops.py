"""Which asyncio event loop runs shiftsim's I/O: uvloop (libuv, in C) where it is installed, else the
standard library's. Both the emulator and the load generator's loop take the choice
(`--event-loop`); uvloop spends less CPU per request on each side, which is headroom for the rate.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Coroutine
from typing import Any

KINDS = ("uvloop", "asyncio")


class EventLoopError(ValueError):
    pass


def default_kind() -> str:
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def add_option(parser: Any, what: str) -> None:
    """`--event-loop` on an argparse parser or group; `what` says what runs on the loop."""
    parser.add_argument("--event-loop", choices=KINDS, default=default_kind(),
                        help=f"the asyncio loop running {what}: uvloop, the default where installed "
                             "(less CPU per request), or asyncio")


def loop_class(kind: str) -> type[asyncio.AbstractEventLoop]:
    """The loop class to build on: uvloop.Loop or asyncio.SelectorEventLoop."""
    if kind == "asyncio":
        return asyncio.SelectorEventLoop
    if kind == "uvloop":
        try:
            import uvloop
        except ImportError:
            raise EventLoopError("--event-loop: uvloop is not installed (pip install uvloop); "
                                 "use --event-loop asyncio") from None
        return uvloop.Loop  # type: ignore[no-any-return]
    raise EventLoopError(f"--event-loop: expected one of {', '.join(KINDS)}, got {kind!r}")


def run(main: Coroutine[Any, Any, Any], kind: str) -> Any:
    """asyncio.run on a loop of this kind."""
    try:
        cls = loop_class(kind)
    except EventLoopError:
        main.close()
        raise
    with asyncio.Runner(loop_factory=cls) as runner:
        return runner.run(main)
