"""A statistical judge beside the alarm: per analysis window, the new version against the old on error
rate (Fisher's exact test, one-sided) and latency (Mann-Whitney U, one-sided, normal approximation
with ties), with a minimum sample in each version (fewer: no verdict, said as such), at the user's
confidence level shared over every test of the run (Bonferroni), so that a run of two equal versions
is flagged at most that often. It advises: CodeDeploy gates on alarms only. Pure numpy and math.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MIN_INVOCATIONS = 20  # per version and window: below it no test is run


def fisher_greater(errors_new: int, n_new: int, errors_old: int, n_old: int) -> float:
    """One-sided Fisher exact p-value that the new version's error rate is higher: P(X >= errors_new)
    for X hypergeometric (all errors spread over both versions at random)."""
    total, errors = n_new + n_old, errors_new + errors_old
    if errors == 0:
        return 1.0
    low, high = max(errors_new, errors - n_old), min(errors, n_new)

    def log_pmf(x: int) -> float:
        return (_log_choose(errors, x) + _log_choose(total - errors, n_new - x) - _log_choose(total, n_new))

    terms = [log_pmf(x) for x in range(low, high + 1)]
    if not terms:
        return 0.0 if errors_new > high else 1.0
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def mann_whitney_greater(new: np.ndarray, old: np.ndarray) -> float:
    """One-sided p-value that the new version's latencies are stochastically larger (normal
    approximation with the tie correction and a continuity correction)."""
    n1, n2 = len(new), len(old)
    if n1 == 0 or n2 == 0:
        return 1.0
    both = np.concatenate([new, old])
    order = np.argsort(both, kind="mergesort")
    ranks = np.empty(len(both))
    sorted_values = both[order]
    # average ranks for ties
    _, first, counts = np.unique(sorted_values, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    u = ranks[:n1].sum() - n1 * (n1 + 1) / 2.0
    n = n1 + n2
    tie_term = float((counts ** 3 - counts).sum()) / (n * (n - 1)) if n > 1 else 0.0
    variance = n1 * n2 / 12.0 * ((n + 1) - tie_term)
    if variance <= 0:
        return 1.0
    z = (u - n1 * n2 / 2.0 - 0.5) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))


def judge(t: np.ndarray, versions: np.ndarray, ok: np.ndarray, latency_ms: np.ndarray,
          windows: list[tuple[float, float]], target: str | None, current: str | None,
          confidence: float = 0.99, min_invocations: int = MIN_INVOCATIONS) -> dict[str, Any]:
    """Each window's tests and the first flag (the window's end, in seconds from the deployment's start)."""
    if not target or not current:
        return {"confidence": confidence, "windows": [], "flagged_at": None, "tested": 0}
    tested = []
    for start, end in windows:
        if end <= 0:  # before the deployment: nothing to compare
            continue
        inside = (t >= start) & (t < end) & (t >= 0)
        new, old = inside & (versions == target), inside & (versions == current)
        n_new, n_old = int(new.sum()), int(old.sum())
        entry: dict[str, Any] = {"start": start, "end": end, "new": n_new, "old": n_old}
        if n_new < min_invocations or n_old < min_invocations:
            entry["verdict"] = "too few invocations"
        else:
            entry["errors_p"] = fisher_greater(int((new & ~ok).sum()), n_new, int((old & ~ok).sum()), n_old)
            entry["latency_p"] = mann_whitney_greater(latency_ms[new & ok], latency_ms[old & ok])
        tested.append(entry)
    tests = 2 * sum(1 for e in tested if "errors_p" in e)
    alpha = (1 - confidence) / max(1, tests)
    flagged = None
    for entry in tested:
        if "errors_p" not in entry:
            continue
        worse = [name for name in ("errors", "latency") if entry[f"{name}_p"] < alpha]
        entry["verdict"] = f"worse: {', '.join(worse)}" if worse else "no difference found"
        if worse and flagged is None:
            flagged = {"at": entry["end"], "on": worse, "errors_p": entry["errors_p"], "latency_p": entry["latency_p"]}
    return {"confidence": confidence, "alpha_per_test": alpha, "tested": tests // 2, "windows": tested,
            "too_few": sum(1 for e in tested if e["verdict"] == "too few invocations"),
            "flagged_at": flagged["at"] if flagged else None, "flag": flagged}
