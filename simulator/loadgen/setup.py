"""Wires shiftsim into Locust: its options in Locust's parser, and at `init` (once per process,
after `--processes` forks) the session and the web UI tab. A bad option stops Locust with one line."""

from __future__ import annotations

import os
import signal
import socket
import sys
from typing import Any

from simulator.client.errors import TargetError
from simulator.connect.flow import FlowError
from simulator.loadgen.emulator_process import EmulatorStartError, die_with_parent
from simulator.loadgen.options import OptionsError, add_options, load_options
from simulator.scenario.sam import as_written


def install(events: Any) -> None:
    events.init_command_line_parser.add_listener(add_options)
    events.init.add_listener(_on_init)


def _web_port_free(parsed: Any, web_ui: Any) -> None:
    """Locust's web UI binds its port after `init`; one already taken is said here, in one line,
    rather than as Locust's traceback once the test has begun."""
    if web_ui is None or parsed is None:
        return
    host = getattr(parsed, "web_host", "") or ""
    port = int(getattr(parsed, "web_port", 8089))
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Locust's server binds it
    try:
        probe.bind((host if host not in ("*", "") else "", port))
    except OSError as exc:
        raise OptionsError(f"--web-port {port}: {exc.strerror or exc} (another Locust or program listens there): "
                           "give another --web-port") from None
    finally:
        probe.close()


def _forked_worker(environment: Any) -> bool:
    """A worker `--processes` forked: it shares its master's terminal (and its fate)."""
    from locust.runners import WorkerRunner

    return isinstance(environment.runner, WorkerRunner) and bool(getattr(environment.parsed_options, "processes", None))


def _die_with_master(environment: Any) -> None:
    """A worker `--processes` forked ends with its master, however the master ends: one that stopped
    on bad input (which only it checks: the alias, the target) left its workers waiting a minute for
    its heartbeat, holding the terminal's output open."""
    if not _forked_worker(environment):
        return
    die_with_parent()
    if os.getppid() == 1:  # the master ended before this worker was told to follow it
        os.kill(os.getpid(), signal.SIGTERM)


def _on_init(environment: Any, **kwargs: Any) -> None:
    from simulator.loadgen.session import LoadSession
    from simulator.loadgen.webui import install_web_ui

    _die_with_master(environment)
    try:
        _web_port_free(environment.parsed_options, kwargs.get("web_ui"))
        options = load_options(environment.parsed_options)
        session = LoadSession(environment, options)
    except (OptionsError, FlowError, EmulatorStartError, TargetError) as exc:
        if not _forked_worker(environment):  # its master says it, once, on the terminal they share
            print(f"shiftsim: error: {as_written(str(exc))}", file=sys.stderr, flush=True)
        sys.exit(2)
    except KeyboardInterrupt:
        if environment.parsed_options is not None and getattr(environment, "shiftsim_said_notes", False):
            raise  # a rehearsal says it in its own words
        print("shiftsim: interrupted while starting: nothing was recorded", file=sys.stderr, flush=True)
        sys.exit(130)
    environment.shiftsim = session
    install_web_ui(environment, session)
    session.catch_up()
