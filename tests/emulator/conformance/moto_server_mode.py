"""A pytest plugin that points moto's own test modules at a shiftsim emulator: moto's server mode
(`TEST_SERVER_MODE`), its endpoint on the port the harness chose, and a fresh, empty emulator (no
stack, code uploads allowed, as `shiftsim serve --allow-code-upload`) for every test, so that no
test sees another's state. Loaded with `-p moto_server_mode` by tests/emulator/test_moto_conformance.py.
"""

import os

# Before moto is imported: its settings read these once.
PORT = int(os.environ["SHIFTSIM_CONFORMANCE_PORT"])
os.environ.update(TEST_SERVER_MODE="true", TEST_SERVER_MODE_ENDPOINT=f"http://127.0.0.1:{PORT}",
                  MOTO_CALL_RESET_API="false", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                  AWS_DEFAULT_REGION="us-east-1")

import asyncio  # noqa: E402
import threading  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def shiftsim_emulator() -> Iterator[None]:
    from simulator.emulator.guard import scenario_guard
    from simulator.emulator.server import Emulator, EmulatorServer
    from simulator.scenario.spec import Scenario

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def call(coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(60)

    async def empty_account() -> Emulator:
        return Emulator(Scenario(), seed=1)

    emulator = call(empty_account())
    server = EmulatorServer(emulator, port=PORT, guard=scenario_guard(emulator.scenario, code_uploads=True))
    call(server.start())
    try:
        yield
    finally:
        call(server.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        # moto's backends live in this process (the emulator answers IAM, STS, S3 through them)
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()
