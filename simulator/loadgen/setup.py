"""Wires shiftsim into Locust: its options in Locust's parser, and at `init` (once per process,
after `--processes` forks) the session and the web UI tab. A bad option stops Locust with one line."""

from __future__ import annotations

import sys
from typing import Any

from simulator.client.aws import TargetError
from simulator.connect.flow import FlowError
from simulator.loadgen.emulator_process import EmulatorStartError
from simulator.loadgen.options import OptionsError, add_options, load_options


def install(events: Any) -> None:
    events.init_command_line_parser.add_listener(add_options)
    events.init.add_listener(_on_init)


def _on_init(environment: Any, **kwargs: Any) -> None:
    from simulator.loadgen.session import LoadSession
    from simulator.loadgen.webui import install_web_ui

    try:
        options = load_options(environment.parsed_options)
        session = LoadSession(environment, options)
    except (OptionsError, FlowError, EmulatorStartError, TargetError) as exc:
        print(f"shiftsim: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    environment.shiftsim = session
    install_web_ui(environment, session)
    session.catch_up()
