"""The code keeps the style and types pyproject.toml sets for it (ruff: pycodestyle, pyflakes, import
order, bugbear, pyupgrade; mypy on the package and the locustfiles), so a slip fails the suite rather
than waiting for someone to run them."""

import subprocess
import sys

from tests.helpers import ROOT


def test_ruff_finds_nothing():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "simulator", "locustfiles", "bench", "tests"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_mypy_finds_nothing():
    done = subprocess.run([sys.executable, "-m", "mypy"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
