"""The speed guard: instructions per invocation through the load path and through the emulator,
counted by callgrind (the same count on a busy machine as on a quiet one), within the budgets
bench/RESULTS.md sets. A change that makes either path markedly dearer fails here; a per-invocation
formatting of the flow logs (what made the path 3.2x dearer) costs 62 % more, 30 % past the budget
(491,592 instructions against 303,446, on 2026-12-08)."""

import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT


@pytest.mark.skipif(shutil.which("callgrind_control") is None, reason="valgrind (Debian package) is installed by .ci/run")
def test_each_invocation_costs_no_more_instructions_than_its_budget():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "instructions.py"), "--check"], capture_output=True,
                          text=True, timeout=900, cwd=ROOT)
    assert "the load path" in done.stdout and "the emulator" in done.stdout, done.stdout + done.stderr[-3000:]
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
