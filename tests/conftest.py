import pytest

from tests.helpers import running_emulator


@pytest.fixture
def emulator():
    """The seed's default stack on a free loopback port, seeded."""
    with running_emulator() as running:
        yield running
