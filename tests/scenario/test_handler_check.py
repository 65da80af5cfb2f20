"""A handler that names code its folder lacks is refused by validate and rehearse alike, one line
naming the file (it ran, and every call failed with Lambda's HandlerNotFound, seen only in a CSV)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from simulator.scenario.handler_check import handler_problems
from simulator.scenario.reader import parse_scenario
from tests.helpers import ROOT


def scenario_with(folder: Path, handler: str, runtime: str = "python3.12"):
    return parse_scenario(f'[[functions]]\nname = "F"\n[[functions.versions]]\ncode = "{folder}"\n'
                          f'handler = "{handler}"\nruntime = "{runtime}"\n', str(folder / "s.toml"))


@pytest.mark.parametrize("handler, said", [
    ("app.handler", None), ("app.CONSTANT", None), ("app.imported", None), ("pkg.mod.go", None),
    ("app.missing", "app.py defines no 'missing' (Lambda would answer Runtime.HandlerNotFound)"),
    ("nowhere.handler", "no module 'nowhere' in"), ("broken.handler", "broken.py: not valid Python (line 1)")])
def test_python_handlers_are_read_for_the_name(tmp_path, handler, said):
    (tmp_path / "app.py").write_text("from os import path as imported\nCONSTANT = 1\ndef handler(e, c):\n    return {}\n")
    (tmp_path / "broken.py").write_text("def handler(e, c) return\n")
    (tmp_path / "pkg" / "mod").mkdir(parents=True)
    (tmp_path / "pkg" / "mod" / "__init__.py").write_text("async def go(e, c):\n    return {}\n")
    problems = handler_problems(scenario_with(tmp_path, handler))
    assert (problems == []) if said is None else (len(problems) == 1 and said in problems[0]), problems


@pytest.mark.parametrize("handler, said", [
    ("index.handler", None), ("lib/rules.check", None),
    ("index.nothing", "index.js exports no 'nothing'"), ("absent.handler", "no module absent (.js, .mjs or .cjs)")])
def test_nodejs_handlers_are_read_for_the_name(tmp_path, handler, said):
    (tmp_path / "index.js").write_text("exports.handler = async () => ({});\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "rules.mjs").write_text("export const check = async () => ({});\n")
    scenario = scenario_with(tmp_path, handler, "nodejs20.x")
    if not scenario.functions[0].versions[0].code.runs_here:
        pytest.skip("no node on this machine")
    problems = handler_problems(scenario)
    assert (problems == []) if said is None else (len(problems) == 1 and said in problems[0]), problems


def test_validate_and_rehearse_refuse_it_in_the_same_line(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def lambda_handler(e, c):\n    return {}\n")
    template = (ROOT / "examples" / "sam-connect" / "template.yaml").read_text()
    (tmp_path / "template.yaml").write_text(template.replace("Handler: app.lambda_handler", "Handler: app.missing"))
    lines = []
    for command in (["validate"], ["rehearse", "--results", str(tmp_path / "run")]):
        done = subprocess.run([sys.executable, "-m", "simulator.cli", *command, "--template",
                               str(tmp_path / "template.yaml")], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        lines.append(done.stderr)
    assert lines[0] == lines[1] and "app.py defines no 'missing'" in lines[0]
    assert not (tmp_path / "run").exists()
