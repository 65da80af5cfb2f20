"""Each benchmark's smoke mode runs and prints its side-by-side table, so the scripts do not rot.
No timing is asserted: benchmarks measure, tests assert behaviour."""

import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.xdist_group("flat-out")  # see pyproject.toml


@pytest.mark.parametrize("script,expected", [
    ("throughput.py", ["plain boto3 `invoke` in a Locust task (baseline)", "raw aiohttp POST", "shiftsim / boto3 baseline",
                       "`--processes -1` / one process", "Failures: 0, 0."]),
    ("emulator.py", ["hello-world aiohttp (baseline), on the emulator's loop", "emulator / hello world"]),
    ("compression.py", ["weight steps seen | 10 of 10, in order: yes"]),
    ("memory.py", ["naive: rows kept in memory", "resident bytes per invocation"]),
    ("plan.py", ["plain Python loop (baseline)", "vectorised, the same model", "(`shiftsim plan`)", "vectorised / loop",
                 "each candidate simulated alone", "shared draws, values per metric and period"]),
    ("calibration.py", ["the judge's false flags, equal versions", "the routing check's false fails",
                        "95 % interval of a count in production's terms", "95 % interval of a window's error rate"]),
    ("latency.py", ["with the reports (flow logs and metrics", "without them", "with / without: p50", "Failures: 0, 0."]),
    ("rate.py", ["150 % of the best closed loop", "50 % of capacity", "80 % of capacity", "90 % of capacity (run 1 of 1)",
                 "rounds alone", "of its fastest"]),
])
def test_benchmark_smoke(script, expected):
    if script == "emulator.py" and shutil.which("wrk") is None:
        pytest.skip("wrk (Debian package) is installed by .ci/run")
    before = (ROOT / "bench" / "RESULTS.md").read_text() if (ROOT / "bench" / "RESULTS.md").exists() else None
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--smoke"], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    for text in expected:
        assert text in done.stdout, done.stdout
    after = (ROOT / "bench" / "RESULTS.md").read_text() if (ROOT / "bench" / "RESULTS.md").exists() else None
    assert after == before  # smoke runs write nothing


def test_the_flat_out_tests_are_one_group_on_one_worker(request):
    """With pytest 9.2, xdist's --dist loadgroup silently stopped grouping (pytest-xdist issue 1386):
    the flat-out benchmarks and held-rate tests ran side by side, each measuring the others' load."""
    if request.config.getoption("loadgroup", default=False):
        assert request.node.nodeid.endswith("@flat-out"), "xdist did not group this test: see pyproject.toml's pytest pin"


def test_the_throughput_benchmark_says_which_core_set_the_figure():
    from bench.throughput import _bottleneck
    assert "load generator set the figure" in _bottleneck(0.99, 0.80)
    assert "endpoint, not the load generator" in _bottleneck(0.80, 0.99)
    assert "both cores were full" in _bottleneck(0.97, 0.97)
    assert _bottleneck(0.5, 0.5) == "."


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="a git checkout: the baseline is a worktree of a commit")
def test_the_throughput_baseline_is_a_worktree_of_the_commit_named_and_a_bad_name_is_one_line():
    sys.path.insert(0, str(ROOT))
    from bench.throughput import checkout

    tree = checkout("HEAD")
    try:
        assert (tree / "locustfiles" / "connect_loop.py").exists() and (tree / "simulator" / "cli.py").exists()
        head = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
        assert head == subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
    with pytest.raises(SystemExit, match=r"^throughput.py: --against no-such-commit: .+") as said:
        checkout("no-such-commit")
    assert "\n" not in str(said.value)
