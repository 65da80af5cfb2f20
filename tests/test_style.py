"""The code keeps the style pyproject.toml sets for it (ruff: pycodestyle, pyflakes, import order,
bugbear, pyupgrade), so a lint slip fails the suite rather than waiting for someone to run ruff."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "simulator", "locustfiles", "bench", "tests"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
