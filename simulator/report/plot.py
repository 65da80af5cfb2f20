"""The timeline figure of a run, from its analysis alone: what share of traffic each version got
(observed, stacked) against the alias's planned weight, the error rate per version with injected
faults marked, the alarms' states as bands, latency per version, and the deployment's events as
labelled markers on every panel. Time: emulated minutes from the deployment's start."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from simulator.report.verdict import nothing_invoked_said  # noqa: E402
from simulator.report.words import counted  # noqa: E402

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
ALARM_COLORS = {"OK": "#7fc97f", "ALARM": "#e41a1c", "INSUFFICIENT_DATA": "#bdbdbd"}


def _minutes(seconds: float) -> float:
    return seconds / 60.0


def _deployment_span(deployment: dict[str, Any], lefts: list[float], width: float) -> tuple[float, float] | None:
    """The x range that zooms on the deployment when the run is more than three times as long."""
    if not deployment.get("deployment_id") or not lefts:
        return None
    end = _minutes(deployment.get("ended_at") or deployment.get("rollback_at") or 0.0)
    span = max(end, 1.0)
    run = max(lefts) + width - min(lefts)
    if run <= 3 * (span + 2):
        return None
    return max(min(lefts), -span / 2 - 1), min(max(lefts) + width, end + span / 2 + 1)


SUBTITLE_LINE = 0.015  # of the figure's height: one line of the 9-point subtitle


def _legend(ax: Any, last: str | None = None) -> None:
    """The panel's legend beside it, if anything in it is labelled (a panel with nothing to draw, a
    function the contacts never called, has none: matplotlib warned on every such run); the entry
    labelled `last` after the others (matplotlib lists markers before lines with error bars)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        order = sorted(range(len(labels)), key=lambda i: labels[i] == last)
        ax.legend([handles[i] for i in order], [labels[i] for i in order], loc="upper left",
                  bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)


def _wrapped(text: str, width: int = 190) -> str:
    return "\n".join(textwrap.wrap(text, width))


def draw_timeline(summary: dict[str, Any], out_dir: Path) -> list[Path]:
    """The run's figure, as timeline.png and timeline.svg in `out_dir`."""
    fig = timeline_figure(summary)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "timeline.png", out_dir / "timeline.svg"]
    for path in paths:
        fig.savefig(path, dpi=110)
    plt.close(fig)
    return paths


def timeline_figure(summary: dict[str, Any]) -> Figure:
    windows = summary["windows"]
    deployment = summary["deployment"]
    versions = [v for v in summary["versions"] if v != "none"]
    color = {v: COLORS[i % len(COLORS)] for i, v in enumerate(versions)}
    mids = [_minutes((w["start"] + w["end"]) / 2) for w in windows]
    lefts = [_minutes(w["start"]) for w in windows]
    width = _minutes(summary["window_s"])
    alarms = sorted({a["alarm"] for a in deployment["alarm_transitions"]})
    results = summary.get("results")
    ratios = [3, 2, 0.5 + 0.35 * max(1, len(alarms)), 2] + ([2] if results else [])
    fig, axes = plt.subplots(len(ratios), 1, figsize=(13, 10 + (2.5 if results else 0)), sharex=True,
                             gridspec_kw={"height_ratios": ratios})
    share_ax, error_ax, alarm_ax, latency_ax = axes[:4]

    # 1. observed share per version (stacked), planned weight of the new version (step line)
    bottoms = [0.0] * len(windows)
    target = deployment.get("target_version")
    stacked = sorted(versions, key=lambda v: v != target)  # the new version from 0, beside its weight line
    for version in stacked:
        shares = [(w["versions"].get(version, {}).get("invocations", 0) / w["invocations"]) if w["invocations"] else 0.0
                  for w in windows]
        share_ax.bar(lefts, shares, width=width, bottom=bottoms, align="edge", color=color[version],
                     alpha=0.75, label=f"version {version} (observed)", linewidth=0)
        bottoms = [b + s for b, s in zip(bottoms, shares, strict=True)]
    steps = list(deployment["shifts"])
    if target and steps:
        xs, ys = [min(lefts) if lefts else 0.0], [0.0]
        for step in steps:
            weight = 1.0 if step["primary"] == target else float(step["additional"].get(target, 0.0))
            xs.append(_minutes(step["t"]))
            ys.append(weight)
        xs.append(max(lefts) + width if lefts else xs[-1])
        ys.append(ys[-1])
        share_ax.step(xs, ys, where="post", color="black", linestyle="--", linewidth=1.6,
                      label=f"version {target}: planned weight")
    share_ax.set_ylim(0, 1.05)
    share_ax.set_ylabel("share of\ninvocations")
    if not summary.get("invocations"):  # empty panels are said to be empty, and why
        why = _wrapped(nothing_invoked_said(summary.get("contacts", 0)), 110)
        for ax in (share_ax, error_ax, latency_ax):
            ax.text(0.5, 0.5, why, transform=ax.transAxes, ha="center", va="center", fontsize=9, color="#666666")
    elif summary.get("deployed_not_called"):
        bypassed = summary.get("deployed_bypassed") or {}
        function = str(summary.get("deployed_function"))
        why = (f"the contacts called {function.partition(':')[0]} only as {', '.join(sorted(bypassed))}, never through "
               f"{function}:\nthe deployment's shift never reached them" if bypassed else
               f"no contact invoked {function} itself (an event source or another function calls it):\n"
               "its versions' traffic is not in the record")
        for ax in (share_ax, error_ax, latency_ax):
            ax.text(0.5, 0.5, why, transform=ax.transAxes, ha="center", va="center", fontsize=9, color="#666666")
    _legend(share_ax)

    # 2. error rate per version with its 95 % interval (a window's few in-flight invocations of a version
    # just rolled back are a wide bar, not an alarming point); injected errors marked
    for version in versions:
        rates, below, above, injected_x, injected_y = [], [], [], [], []
        for mid, w in zip(mids, windows, strict=True):
            stats = w["versions"].get(version)
            rate = stats["errors"] / stats["invocations"] if stats else float("nan")
            low, high = stats["error_rate_95"] if stats else (rate, rate)
            rates.append(rate)
            below.append(max(0.0, rate - low))
            above.append(max(0.0, high - rate))
            if stats and stats["injected_errors"]:
                injected_x.append(mid)
                injected_y.append(rate)
        error_ax.errorbar(mids, rates, yerr=[below, above], marker="o", markersize=3, color=color[version],
                          elinewidth=0.8, alpha=0.9, label=f"version {version} (bars: 95 % interval)")
        if injected_x:
            error_ax.scatter(injected_x, injected_y, marker="x", s=60, color="black", zorder=5,
                             label="injected faults" if version == versions[-1] else None)
    error_ax.set_ylabel("error rate")
    error_ax.set_ylim(-0.03, 1.03)
    _legend(error_ax, last="injected faults")

    # 3. alarm state bands
    end_x = max(lefts) + width if lefts else 1.0
    for row, name in enumerate(alarms):
        transitions = [a for a in deployment["alarm_transitions"] if a["alarm"] == name]
        if lefts and transitions and _minutes(transitions[0]["t"]) > min(lefts):  # a new alarm: no data yet
            alarm_ax.barh(row, _minutes(transitions[0]["t"]) - min(lefts), left=min(lefts), height=0.6,
                          color=ALARM_COLORS["INSUFFICIENT_DATA"])
        for i, transition in enumerate(transitions):
            start = max(_minutes(transition["t"]), min(lefts) if lefts else 0.0)
            stop = _minutes(transitions[i + 1]["t"]) if i + 1 < len(transitions) else end_x
            alarm_ax.barh(row, stop - start, left=start, height=0.6,
                          color=ALARM_COLORS.get(transition["state"], "#cccccc"))
    if not alarms:  # a load-only run follows no deployment, so no alarm's state was read
        alarm_ax.text(0.5, 0.5, "no alarm states recorded" + ("" if deployment.get("deployment_id") else
                      ": a load-only run reads them only while it follows a deployment"),
                      transform=alarm_ax.transAxes, ha="center", va="center", fontsize=8, color="#555555")
    alarm_ax.set_yticks(range(len(alarms)), [a[:40] for a in alarms], fontsize=8)
    alarm_ax.set_ylim(-0.6, max(1, len(alarms)) - 0.4)
    alarm_ax.legend(handles=[Patch(color=c, label=s) for s, c in ALARM_COLORS.items()], loc="upper left",
                    bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)

    # 4. latency per version, the load's ramp up and wind down left out (connections opening, users
    # starting and stopping: not the versions' latency)
    steady = slice(1, -1) if len(windows) > 3 else slice(None)
    for version in versions:
        p50 = [w["versions"].get(version, {}).get("p50_ms", float("nan")) for w in windows][steady]
        p95 = [w["versions"].get(version, {}).get("p95_ms", float("nan")) for w in windows][steady]
        # marked, as the error rates are: a window alone (a short run, a version seen once) is a point
        latency_ax.plot(mids[steady], p50, color=color[version], marker="o", markersize=3,
                        label=f"version {version} p50")
        latency_ax.plot(mids[steady], p95, color=color[version], linestyle=":", marker="^", markersize=3,
                        label=f"version {version} p95")
    latency_ax.set_ylabel("Lambda latency (real ms)")
    _legend(latency_ax)

    # 5. time to result per contact (the flow's result attribute), by its value; contacts without one
    if results:
        result_ax = axes[4]
        values = list(results["by_value"])
        palette = {v: COLORS[(i + 2) % len(COLORS)] for i, v in enumerate(values)}
        for value in values:
            points = [(start, seconds) for start, got, seconds in results["points"] if got == value]
            result_ax.scatter([_minutes(x) for x, _ in points], [y for _, y in points], s=10, alpha=0.7,
                              color=palette[value], label=f"result from {value}")
        missing = [(start, seconds) for start, got, seconds in results["points"] if got is None]
        if missing:
            result_ax.scatter([_minutes(x) for x, _ in missing], [y for _, y in missing], s=22, marker="x",
                              color="black", label="no result (contact's length)")
        attribute = (summary.get("run_info") or {}).get("result_attribute") or "result"
        result_ax.set_ylabel(f"time to result\n(emulated s; {attribute})")
        _legend(result_ax)
    bottom_ax = axes[-1]

    # events on every panel
    marks = []
    if deployment.get("deployment_id"):
        marks.append((0.0, "deployment starts", "black"))
    if deployment.get("first_target_error_at") is not None:
        marks.append((_minutes(deployment["first_target_error_at"]), f"first v{target} error", "#ff7f0e"))
    if deployment.get("alarm_fired_at") is not None:
        marks.append((_minutes(deployment["alarm_fired_at"]), "alarm", "#e41a1c"))
    judged = summary.get("judge") or {}
    if judged.get("flagged_at") is not None and not summary.get("deployed_not_called"):
        marks.append((_minutes(judged["flagged_at"]), f"judge flags ({100 * judged['confidence']:g} %)", "#17becf"))
    if deployment.get("rollback_at") is not None:
        marks.append((_minutes(deployment["rollback_at"]), "rolled back", "#6a3d9a"))
    elif deployment.get("ended_at") is not None:
        marks.append((_minutes(deployment["ended_at"]), deployment["outcome"].replace("_", " "), "#6a3d9a"))
    for ax in axes:
        for x, _, c in marks:
            ax.axvline(x, color=c, linewidth=1.2, alpha=0.8)
        for step in deployment["shifts"]:
            ax.axvline(_minutes(step["t"]), color="grey", linewidth=0.5, linestyle=":", alpha=0.6)
        ax.grid(axis="y", alpha=0.3)
    zoom = _deployment_span(deployment, lefts, width)
    if zoom is not None:  # a long run: the deployment fills the width, the rest is context beside it
        share_ax.set_xlim(*zoom)
    low, high = share_ax.get_xlim()
    level, previous = 0, None
    for x, label, c in sorted(marks, key=lambda m: m[0]):
        near = previous is not None and x - previous < 0.15 * (high - low)  # a label is about that wide
        level = level + 1 if near else 0
        previous = x
        # above the panel's top edge (axes fraction), not at a data height the edge may cross
        share_ax.annotate(label, xy=(x, 1.0), xycoords=("data", "axes fraction"), xytext=(3, 3 + 11 * level),
                          textcoords="offset points", fontsize=8, color=c, annotation_clip=False)

    info = summary.get("run_info") or {}
    scale = info.get("time_scale")
    origin = "the deployment's start" if deployment.get("deployment_id") else "the run's start (no deployment)"
    bottom_ax.set_xlabel(f"emulated minutes from {origin}"
                          + (f"  (time scale x{scale:g}: 1 real second = {scale:g} emulated seconds)" if scale else "")
                          + (f"; zoomed on the deployment: the run spans {min(lefts):.0f} to {max(lefts) + width:.0f}"
                             if zoom is not None else ""))
    title = f"{info.get('scenario') or summary['run']}: "
    functions = summary.get("functions") or {}
    others = [q for q, f in functions.items() if not f["deployed"]]
    if others:  # the panels are the deployed function's; say which, and that the flow called more
        title += f"{summary.get('deployed_function')}, "
    if deployment.get("deployment_id"):
        title += (f"{deployment['config']}, version {deployment['current_version']} -> {target}: "
                  f"{deployment['outcome'].replace('_', ' ')}")
    else:
        title += "no deployment"
    verdict = summary.get("verdict")
    if verdict:
        said = "PASS" if verdict["passed"] else ("COULD NOT JUDGE" if verdict.get("judged") is False else "FAIL")
        title += f"; verdict {said}" + (" (default expectations)" if verdict.get("implicit") else "")
    fig.suptitle(title, fontsize=12, x=0.01, ha="left")
    production = summary.get("production") or {}
    hurt = production.get("failed_contacts_during") if production.get("stated") else None
    during = (f" ({deployment['failed_contacts_during']} during the deployment"
              + (f"; in production's terms {hurt['estimate']:,.0f}"
                 + (f", 95 % {hurt['low']:,.0f} to {hurt['high']:,.0f}" if production.get("sampled") else "")
                 if hurt else "") + ")") if deployment.get("deployment_id") else ""
    error, hooks = deployment.get("error") or {}, deployment.get("hooks_failed") or []
    why = (f"{deployment['outcome'].replace('_', ' ')} by CodeDeploy ({error.get('code')}): "
           + (f"{hooks[0]['event']}: {hooks[0]['diagnostics']}" if hooks else str(error.get("message")))
           ).partition("\n")[0] if error else ""
    subtitle = _wrapped(f"{counted(summary['invocations'], 'invocation')}, "
                        f"{counted(summary['errors'], 'error')}; {summary['failed_contacts']:,} of "
                        f"{counted(summary['contacts'], 'contact')} took an error branch{during}; run {summary['run']}"
                        + (f"; panels: {summary.get('deployed_function')} only (the flow also called "
                           f"{', '.join(others)})" if others else ""))
    # under the title, growing downwards: a second line pushes the panels down, never into the title
    fig.text(0.01, 0.955, subtitle, fontsize=9, color="#444444", va="top")
    if why:  # below the panels: why the deployment ended as it did
        fig.text(0.01, 0.005, _wrapped(why), fontsize=9, color="#6a3d9a", va="bottom")
    fig.tight_layout(rect=(0, 0.03 if why else 0, 1, 0.945 - SUBTITLE_LINE * (subtitle.count("\n") + 1)))
    return fig
