"""The shiftsim commands the README and docs/ pages show, as written: every one parses with the
CLI's own parser (a flag a page names exists, its value is one the flag takes), and the quick
ones whose files are in the repository (`validate`, `deploy` on an emulator of its own) run and
succeed. Commands naming the user's own files (`template.yaml`, `results/<run-id>`) or AWS are
checked for their flags only."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from simulator.cli import build_parser
from tests.test_cli import ROOT, shiftsim

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.S)


def documented_commands() -> list[tuple[str, list[str]]]:
    """(page:line, the arguments after `shiftsim`) of each shiftsim command in a shell block."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for block in FENCE.finditer(text):
            if block.group(1) not in ("", "bash", "sh", "shell", "console"):
                continue
            number = text.count("\n", 0, block.start(2))
            lines: list[tuple[int, str]] = []  # (where it starts, the line with its continuations)
            for raw in block.group(2).splitlines():
                number += 1
                if lines and lines[-1][1].endswith("\\"):
                    lines[-1] = (lines[-1][0], lines[-1][1][:-1] + " " + raw)
                else:
                    lines.append((number, raw))
            for number, line in lines:
                for part in re.split(r"&&|(?<!&)&(?!&)|;", line.split(" #")[0]):
                    if not re.match(r"(\$ )?([A-Z_]+=\S* )*(\S*/)?shiftsim\b", part.strip()):
                        continue  # output, or another program
                    words = shlex.split(part.strip().removeprefix("$ "))
                    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # AWS_PROFILE=staging shiftsim ...
                        words = words[1:]
                    if words and Path(words[0]).name == "shiftsim":
                        found.append((f"{page.relative_to(ROOT)}:{number}", words[1:]))
    return found


COMMANDS = documented_commands()


def test_the_pages_show_commands():
    assert len(COMMANDS) >= 20 and {args[0] for _, args in COMMANDS} >= {"rehearse", "validate", "plan", "serve",
                                                                         "deploy", "invoke", "plot"}


@pytest.mark.parametrize("args", [args for _, args in COMMANDS], ids=[where for where, _ in COMMANDS])
def test_a_documented_command_parses(args, capsys):
    try:
        build_parser().parse_args(args)
    except SystemExit:
        pytest.fail(f"shiftsim {shlex.join(args)}: {capsys.readouterr().err.strip().splitlines()[-1]}")


def _runs_here(args: list[str]) -> bool:
    """A quick command whose files are all in the repository."""
    quick = args[0] == "validate" or (args[0] == "deploy" and "--endpoint" not in args and "--target" not in args)
    files = [a for a in args[1:] if a.endswith((".toml", ".yaml", ".json"))]
    return quick and all((ROOT / f).exists() for f in files)


RUNNABLE = [(where, args) for where, args in COMMANDS if _runs_here(args)]


@pytest.mark.parametrize("args", [args for _, args in RUNNABLE], ids=[where for where, _ in RUNNABLE])
def test_a_quick_documented_command_runs(args):
    if args[0] == "deploy" and "--time-scale" not in args:  # its length in emulated time, run at x600
        args = [*args, "--time-scale", "600"]
    result = shiftsim(*args)
    assert result.returncode == 0, (args, result.stderr)
