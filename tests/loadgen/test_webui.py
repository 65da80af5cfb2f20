"""The web UI in headless Chromium during a real run: the shiftsim tab and the live chart render
(screenshots are kept under the test's tmp dir)."""

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.helpers import ROOT, free_port

CHROMIUM = shutil.which("chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,900"]


def chromium(tmp_path, *args):
    profile = tmp_path / f"profile-{time.monotonic_ns()}"
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=90)
    return done.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is installed by .ci/run")
def test_the_tab_and_the_live_chart_render_during_a_run(tmp_path):
    port = free_port()
    locust = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "locustfiles" / "connect_loop.py"), "--autostart",
         "-u", "10", "-r", "10", "-t", "60s", "--web-host", "127.0.0.1", "--web-port", port,
         "--scenario", str(ROOT / "scenarios" / "linear-rollback.toml"), "--results-dir", str(tmp_path / "r")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # bounded wait for the deployment to show
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                state = urllib.request.urlopen(f"{base}/shiftsim/state", timeout=5).read().decode()
            except OSError:
                continue
            if '"kind": "weight"' in state:
                break
        tab_dom = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", f"{base}/?tab=shiftsim-versions")
        chromium(tmp_path, "--virtual-time-budget=5000", f"--screenshot={tmp_path / 'tab.png'}",
                 f"{base}/?tab=shiftsim-versions")
        state_dom = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", f"{base}/?tab=shiftsim-state")
        chart_dom = chromium(tmp_path, "--virtual-time-budget=4000", "--dump-dom", f"{base}/shiftsim/timeline")
        figure = urllib.request.urlopen(f"{base}/shiftsim/timeline.png", timeout=60).read()
        chromium(tmp_path, "--virtual-time-budget=4000", f"--screenshot={tmp_path / 'chart.png'}",
                 f"{base}/shiftsim/timeline")
    finally:
        locust.terminate()
        locust.communicate(timeout=30)
    assert "Traffic shift" in tab_dom and "Observed share" in tab_dom and "Errors by reason" in tab_dom
    assert len(re.findall(r">\d+ %<", tab_dom)) >= 2  # weight cells (they move fast at 60x)
    assert "ConnectLambdaFunction:PROD | deployment:" in chart_dom
    # production's arrivals kept or not, live: what the verdict will weigh (not how well: 10 users, a busy machine)
    assert "since the users were all there" in state_dom
    assert re.search(r"started [\d,]+ of the [\d,]+ contacts due \(\d+\.\d %\)", state_dom), state_dom[-3000:]
    # the live view is the figure the run will leave: drawn from the live record, in deployment time
    assert figure.startswith(b"\x89PNG") and len(figure) > 20_000
    assert "emulated minutes from the deployment's start (deployment time)" in chart_dom
    assert "Share, last 10 s" in tab_dom and "Errors, last 10 s" in tab_dom
    assert "traffic: version 1 90 %, version 2 10 %" in chart_dom  # the events list, in deployment time
    for png in ("tab.png", "chart.png"):
        assert (tmp_path / png).stat().st_size > 10_000


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is installed by .ci/run")
def test_the_start_form_offers_the_options_a_test_start_applies(tmp_path):
    port = free_port()
    locust = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "locustfiles" / "connect_loop.py"), "--web-host",
         "127.0.0.1", "--web-port", port, "--results-dir", str(tmp_path / "r")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except OSError:
                time.sleep(0.3)
        start_dom = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", f"http://127.0.0.1:{port}/")
    finally:
        locust.terminate()
        locust.communicate(timeout=30)
    assert "Custom parameters" in start_dom
    for option in ("contacts_per_minute", "max_contacts_per_second", "traffic_profile", "rate", "prompt_time",
                   "deploy_after"):
        assert option in start_dom, option
    for fixed in ("endpoint_url", "alias_arn", "scenario"):  # what started with Locust stays on the command line
        assert f'name="{fixed}"' not in start_dom
