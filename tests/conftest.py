"""The suite's set-up: shiftsim's modules compiled once, the long tests first, the event loops a test
runs on, the emulator fixture."""

import asyncio
import compileall

import pytest

from tests.helpers import ROOT, running_emulator

# shiftsim's client and emulator run on uvloop where installed (`--event-loop`): the async tests of
# these modules run on both loops.
ON_BOTH_LOOPS = {"test_http1.py", "test_fast_invoke.py", "test_invoke.py", "test_lambda_api.py"}


def pytest_configure(config):
    """shiftsim's modules compiled once, before the workers start, as pip compiles an installed package's:
    where PYTHONDONTWRITEBYTECODE is set (this machine, CI), each of the suite's hundreds of `shiftsim`
    processes would compile them again."""
    if not hasattr(config, "workerinput"):
        compileall.compile_dir(ROOT / "simulator", quiet=1)


def pytest_collection_modifyitems(config, items):
    """The long tests first, longest first (xdist hands tests to its workers in this order): each
    starts while the short ones keep the other workers busy, and none is left running alone at the end.
    Those that mostly wait (a rehearsal in real time) go one in every two, so that they never hold most
    of the workers at once while the cores idle; those marked `last` go last."""
    def marks(item):
        return list(item.iter_markers("long"))

    items.sort(key=lambda item: (item.get_closest_marker("last") is not None,
                                 -max((mark.args[0] for mark in marks(item)), default=0)))
    waiting = [item for item in items if any(mark.kwargs.get("waits") for mark in marks(item))]
    working = [item for item in items if item not in waiting]
    items[:] = [item for pair in zip(working, waiting, strict=False) for item in pair] + \
        working[len(waiting):] + waiting[len(working):]


def pytest_asyncio_loop_factories(config, item):
    if item.path.name in ON_BOTH_LOOPS:
        import uvloop

        return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
    return {"asyncio": asyncio.new_event_loop}  # one factory: the test keeps its plain name


@pytest.fixture
def emulator():
    """The seed's default stack on a free loopback port, seeded."""
    with running_emulator() as running:
        yield running
