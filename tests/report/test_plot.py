"""The run's figure, read back from matplotlib's own objects: what a user looks at is drawn."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt

from simulator.report.analysis import analyse
from simulator.report.plot import timeline_figure
from simulator.report.record import RecordWriter, load_record
from simulator.report.verdict import Expectations

T0 = 1_700_000_000.0


def a_short_load(folder, seconds: float = 20.0, n: int = 400):
    """A load-only run (no deployment) of a few seconds, version 1 only: one analysis window."""
    writer = RecordWriter(folder)
    rows = []
    for i in range(n):
        t = T0 + i * seconds / n
        rows.append((t, t, t + 0.002 + (i % 7) * 0.001, t, f"c{i // 4}", i % 4 + 1, "invoke-alias", "PROD", "1",
                     "Success", "", 0, 200, "", 0, "local"))
    writer.add(rows)
    writer.close()
    return load_record(folder)


def test_a_run_of_one_window_shows_its_latency(tmp_path):
    """Lines join points: a run short enough to fill one window had an empty latency panel, its one
    point drawn as a line of no length. Each version's p50 and p95 are marked."""
    summary = analyse(a_short_load(tmp_path / "run"), expectations=Expectations())
    assert len(summary["windows"]) == 1
    fig = timeline_figure(summary)
    try:
        latency_ax = fig.axes[3]
        assert latency_ax.get_ylabel() == "Lambda latency (real ms)"
        drawn = {line.get_label(): line for line in latency_ax.get_lines()}
        for label in ("version 1 p50", "version 1 p95"):
            line = drawn[label]
            assert [y for y in line.get_ydata() if not math.isnan(y)]  # a value to show
            assert line.get_marker() not in (None, "None", "", " ")  # and shown
    finally:
        plt.close(fig)


def test_a_figure_with_panels_that_have_nothing_to_draw_warns_of_nothing(tmp_path):
    """Contacts that never called the watched alias: its panels are empty, and matplotlib said
    "No artists with labels found to put in legend" three times on every such run."""
    import warnings

    writer = RecordWriter(tmp_path / "run")
    writer.describe_run({"alias_arn": "arn:aws:lambda:us-east-1:123456789012:function:ConnectLambdaFunction:PROD"})
    writer.add([(T0 + i, T0 + i, T0 + i + 0.01, T0 + i, f"c{i}", 1, "flow/lookup", "Other:live", "1", "Success", "",
                 0, 200, "", 0, "local") for i in range(40)])
    writer.close()
    summary = analyse(load_record(tmp_path / "run"), expectations=Expectations())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = timeline_figure(summary)
    plt.close(fig)


def test_a_windows_few_failed_invocations_are_drawn_with_their_uncertainty(tmp_path):
    """A version rolled back leaves a few in-flight invocations in the next window: 3 of 3 failed read
    as a point at 100 %. Each point carries its 95 % interval, so that one is a bar reaching below 50 %
    while a well-counted window's bar stays short."""
    writer = RecordWriter(tmp_path / "run")
    rows = []
    for i in range(400):
        t = T0 + i * 0.05
        rows.append((t, t, t + 0.002, t, f"c{i}", 1, "invoke-alias", "PROD", "1", "Success", "", 0, 200, "", 0, "local"))
    for i in range(3):
        t = T0 + 1.0 + i
        rows.append((t, t, t + 0.002, t, f"d{i}", 1, "invoke-alias", "PROD", "2", "Error", "function_error", 0, 200,
                     "", 0, "local"))
    writer.add(sorted(rows))
    writer.close()
    summary = analyse(load_record(tmp_path / "run"), expectations=Expectations())
    window = next(w for w in summary["windows"] if "2" in w["versions"])
    low, high = window["versions"]["2"]["error_rate_95"]
    assert low < 0.5 and high == 1.0
    fig = timeline_figure(summary)
    try:
        error_ax = fig.axes[1]
        spans = [(min(y0, y1), max(y0, y1)) for collection in error_ax.collections
                 for (_, y0), (_, y1) in collection.get_segments()]
        assert any(bottom < 0.5 and top == 1.0 for bottom, top in spans)  # version 2's lone window
        assert any(top - bottom < 0.02 for bottom, top in spans)  # version 1's 400: a short bar
    finally:
        plt.close(fig)
