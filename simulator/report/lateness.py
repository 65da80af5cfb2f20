"""Why paced invocations started behind their intended time, from the record and the run's settings
alone: could the users start the rate at all (each starts again only after its invocation and a
prompt), and were there whole seconds with every start behind (a lasting backlog: the generator ran
flat out, and the rate it reached then is what the machine and the endpoint could do at that
moment)? No I/O.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def why_behind(intended: np.ndarray, start: np.ndarray, end: np.ndarray, behind: np.ndarray,
               users: int, window: tuple[float, float] | None = None) -> dict[str, Any]:
    """`behind` flags the starts that count as behind (late, or over some lag); `window` limits the
    whole seconds looked at (by start time; default: from the first start to the last).

    Returns how many starts were behind; the share of them whose intended time found every user but at
    most one in an invocation (`all_users_busy`); the whole seconds in which every start was behind
    (`seconds_all_behind`) and the rate reached in them (`rate_all_behind`, starts a second).
    """
    behind = np.asarray(behind, dtype=bool)
    count = int(behind.sum())
    order = np.argsort(start, kind="stable")
    starts, behind_by_start, ends = start[order], behind[order], np.sort(end)
    at = intended[behind]  # was a user free when the start was due?
    in_flight = np.searchsorted(starts, at, side="right") - np.searchsorted(ends, at, side="right")
    all_busy = float((in_flight >= users - 1).mean()) if count and users > 0 else 0.0
    if window is None:
        window = (float(starts[0]), float(starts[-1])) if len(starts) else (0.0, 0.0)
    bounds = np.searchsorted(starts, np.arange(window[0], window[1] + 1e-9, 1.0))
    full = [int(b - a) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a and behind_by_start[a:b].all()]
    return {"behind": count, "all_users_busy": all_busy, "seconds_all_behind": len(full),
            "rate_all_behind": float(np.mean(full)) if full else 0.0}


def late_summary(rows: np.ndarray, info: dict[str, Any]) -> dict[str, Any] | None:
    """For a paced run with late starts: `why_behind` on its late flags, and how many starts a second
    its users could give at most (each starts again after its invocation and a prompt)."""
    rate = float(info.get("rate") or 0.0)
    if rate <= 0 or len(rows) == 0 or not rows["late"].any():
        return None
    users, prompt = int(info.get("users") or 0), info.get("prompt_mean_s")
    found = why_behind(rows["intended"], rows["start"], rows["end"], rows["late"], users)
    invocation = float(np.median(rows["end"] - rows["start"]))
    cycle = invocation + float(prompt) if prompt is not None else None
    return {**found, "rate": rate, "users": users, "invocation_s": invocation, "prompt_s": prompt,
            "users_limit": users / cycle if users and cycle else None}


def describe_late(late: dict[str, Any]) -> str:
    """One line for the run's summary: what held the late starts up, and what to change."""
    rate, limit = late["rate"], late["users_limit"]
    if limit is not None and limit < rate:
        needed = math.ceil(rate * (late["invocation_s"] + late["prompt_s"])) + 1
        return (f"late starts: {late['users']} users start at most about {limit:,.0f}/s with invocations of "
                f"{1000 * late['invocation_s']:.1f} ms (median) and prompts of {1000 * late['prompt_s']:.0f} ms "
                f"(mean), fewer than the {rate:,.0f}/s asked: add users (at least {needed}) or lower the rate")
    if late["seconds_all_behind"]:
        users = f", while the users could have started about {limit:,.0f}/s" if limit is not None else ""
        return (f"late starts: {late['seconds_all_behind']} s with every start late, at "
                f"{late['rate_all_behind']:,.0f}/s ({100 * late['rate_all_behind'] / rate:.0f} % of the {rate:,.0f}/s "
                f"asked){users}: the machine or the endpoint could not keep up; add processes or workers, "
                "or lower the rate")
    return "late starts: no whole second with every start late: short stalls, no lasting backlog"
