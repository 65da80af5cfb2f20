"""Conformance: moto's own test modules for Lambda aliases, CloudWatch and CodeDeploy, unmodified,
from moto's source distribution on the package index (pinned by version and hash), run in moto's
server mode against a shiftsim emulator: a fresh, empty one per test (conformance/moto_server_mode.py).

Every case passes except those conformance/cases.toml lists: out of scope (the EC2/on-premises and
ECS platforms), disputed (where moto's test contradicts AWS; docs/emulator.md gives the evidence),
refused (served differently on purpose) and unstable (an outcome that hangs on the clock, on AWS
too). A listed case that starts passing fails as well (unstable ones excepted), so that the list
stays true; docs/emulator.md states the count.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import tomllib
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from tests.helpers import ROOT, free_port

HERE = Path(__file__).resolve().parent / "conformance"
CASES = tomllib.loads((HERE / "cases.toml").read_text())
RELEASE = CASES["release"]


def moto_tests(cache: Path) -> Path:
    """moto's `tests/` folder of the pinned release, fetched once into `cache`."""
    folder = cache / f"moto-{RELEASE['version']}"
    if (folder / "tests").is_dir():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    pin = cache / "moto-pin.txt"
    pin.write_text(f"moto=={RELEASE['version']} --hash=sha256:{RELEASE['sha256']}\n")
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                    "--require-hashes", "-r", str(pin), "-d", str(cache)], check=True, timeout=600)
    archive = cache / f"moto-{RELEASE['version']}.tar.gz"
    prefix = f"moto-{RELEASE['version']}/tests/"
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
        tar.extractall(cache, members=members, filter="data")
    return folder


def outcomes(report: Path) -> dict[str, str]:
    """Each case's outcome from a JUnit report: `module.py::test[param]` -> passed/failed/skipped."""
    results = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped":
                outcome = "skipped"
        results[f"{module}.py::{case.get('name')}"] = outcome
    return results


@pytest.mark.long(20)
def test_motos_own_tests_pass_against_the_emulator(tmp_path):
    folder = moto_tests(ROOT / ".cache" / "conformance")
    report = tmp_path / "report.xml"
    env = {**os.environ, "SHIFTSIM_CONFORMANCE_PORT": free_port(),
           "PYTHONPATH": os.pathsep.join([str(HERE), str(folder)])}
    env.pop("PYTEST_XDIST_WORKER", None)
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "moto_server_mode", "-p", "no:cacheprovider",
                          "-c", str(HERE / "pytest.ini"), "-q", "--color=no", "--tb=line", f"--junitxml={report}",
                          "--rootdir", str(folder), *CASES["modules"]],
                         cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    results = outcomes(report)
    assert results, run.stdout[-3000:] + run.stderr[-3000:]
    expected_to_fail = {**CASES["out_of_scope"], **CASES["disputed"], **CASES["refused"]}
    listed = {**expected_to_fail, **CASES["unstable"]}
    failing = sorted(name for name, outcome in results.items() if outcome == "failed" and name not in listed)
    assert not failing, "failing:\n" + "\n".join(failing) + "\n\n" + run.stdout[-6000:]
    passing_listed = sorted(name for name in expected_to_fail if results.get(name) == "passed")
    assert not passing_listed, f"listed as failing, but passing: {passing_listed}"
    unknown = sorted(name for name in listed if name not in results)
    assert not unknown, f"listed, but no such case in moto {RELEASE['version']}: {unknown}"
    in_scope = [name for name, outcome in results.items() if outcome != "skipped" and name not in CASES["out_of_scope"]]
    passed = sum(results[name] == "passed" for name in in_scope if name not in CASES["unstable"])
    docs = (ROOT / "docs" / "emulator.md").read_text()
    said = re.search(r"(\d+) of moto ([\d.]+)'s (\d+) cases", docs)
    expected = (str(passed), RELEASE["version"], str(len(in_scope)))
    assert said and said.groups() == expected, \
        f"docs/emulator.md should say: {passed} of moto {RELEASE['version']}'s {len(in_scope)} cases"
