"""The shiftsim and Locust commands the README and docs/ pages show, as written: every shiftsim one
parses with the CLI's own parser, every `locust` one with Locust's parser and shiftsim's options
(a flag a page names exists, its value is one the flag takes), and the quick ones whose files are
in the repository (`validate`, `deploy` on an emulator of its own) run and succeed; the slow ones run
in a smoke form in test_docs_smoke. Commands naming the user's own files (`template.yaml`) or AWS are
checked for their flags only."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli import build_parser
from tests.test_cli import ENV, ROOT, shiftsim

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.S)


def documented_commands(program: str) -> list[tuple[str, list[str]]]:
    """(page:line, the arguments after `program`) of each of its commands in a shell block."""
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
                    if not re.match(rf"(\$ )?([A-Z_]+=\S* )*(\S*/)?{program}\b", part.strip()):
                        continue  # output, or another program
                    words = shlex.split(part.strip().removeprefix("$ "))
                    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # AWS_PROFILE=staging shiftsim ...
                        words = words[1:]
                    if words and Path(words[0]).name == program:
                        found.append((f"{page.relative_to(ROOT)}:{number}", words[1:]))
    return found


COMMANDS = documented_commands("shiftsim")
LOCUST_COMMANDS = documented_commands("locust")


def test_the_pages_show_commands():
    assert len(COMMANDS) >= 20 and {args[0] for _, args in COMMANDS} >= {"rehearse", "validate", "plan", "serve",
                                                                         "deploy", "invoke", "plot"}


@pytest.mark.parametrize("args", [args for _, args in COMMANDS], ids=[where for where, _ in COMMANDS])
def test_a_documented_command_parses(args, capsys):
    try:
        build_parser().parse_args(args)
    except SystemExit:
        pytest.fail(f"shiftsim {shlex.join(args)}: {capsys.readouterr().err.strip().splitlines()[-1]}")


INLINE_LOCUST = re.compile(r"`((?:\S*/)?locust [^`]+)`")
LOCUST_COMMANDS += [(f"{page.relative_to(ROOT)}:{page.read_text(encoding='utf-8').count(chr(10), 0, m.start()) + 1}",
                     shlex.split(m.group(1))[1:])
                    for page in PAGES for m in INLINE_LOCUST.finditer(page.read_text(encoding="utf-8"))]
# Locust's parser with shiftsim's options, in a process of its own: importing locust monkey-patches the
# standard library (gevent), which this test process must not have.
PARSE_LOCUST = """
import json, sys
import locust.argument_parser
from simulator.loadgen.options import add_options
parser = locust.argument_parser.get_parser(default_config_files=[])  # not this machine's locust.conf
add_options(parser)
for args in json.loads(sys.argv[1]):
    try:
        parser.parse_args(args)
    except SystemExit:
        print(" ".join(args))
"""


def test_the_pages_show_locust_commands():
    assert len(LOCUST_COMMANDS) >= 5 and any("--headless" in args for _, args in LOCUST_COMMANDS)


def test_every_documented_locust_command_parses():
    done = subprocess.run([sys.executable, "-c", PARSE_LOCUST, json.dumps([args for _, args in LOCUST_COMMANDS])],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == "", f"these do not parse: {done.stdout}{done.stderr[-3000:]}"


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
