"""A statistical judge beside the alarm: per analysis window, the new version against the old on error
rate (Fisher's exact test, one-sided) and latency (Mann-Whitney U, one-sided, normal approximation
with ties), with a minimum sample in each version: a window with fewer is tested together with the next (its
invocations carried forward until both versions have the minimum); what never reaches it gets no
verdict, said as such.

It decides window by window with what it knew then, as an online judge must: the k-th window it can
test spends alpha / (k (k + 1)) of the run's error budget (alpha = 1 - confidence; the shares sum to
alpha however many windows follow), split over its two tests, so a run of two equal versions is
flagged at most alpha of the time. A difference is flagged only when it is also large enough to
matter, as canary analysis tools require: an error rate at least `min_error_increase` higher
(absolute), a median latency at least `min_latency_increase` higher (relative) and
`min_latency_increase_ms` (absolute). It advises: CodeDeploy gates on alarms only. Pure numpy and math.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MIN_INVOCATIONS = 20  # per version and window: below it no test is run
MIN_ERROR_INCREASE = 0.01       # one percentage point of error rate
MIN_LATENCY_INCREASE = 0.10     # of the old version's median
MIN_LATENCY_INCREASE_MS = 5.0   # and at least this many milliseconds


def spent_alpha(alpha: float, k: int) -> float:
    """The share of the run's alpha the k-th tested window (from 1) spends: alpha / (k (k + 1))."""
    return alpha / (k * (k + 1))


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
          confidence: float = 0.99, min_invocations: int = MIN_INVOCATIONS,
          min_error_increase: float = MIN_ERROR_INCREASE, min_latency_increase: float = MIN_LATENCY_INCREASE,
          min_latency_increase_ms: float = MIN_LATENCY_INCREASE_MS) -> dict[str, Any]:
    """Each window's tests and the first flag (the window's end, in seconds from the deployment's start)."""
    thresholds = {"min_error_increase": min_error_increase, "min_latency_increase": min_latency_increase,
                  "min_latency_increase_ms": min_latency_increase_ms}
    if not target or not current:
        return {"confidence": confidence, "windows": [], "flagged_at": None, "tested": 0, **thresholds}
    alpha_run = 1 - confidence
    tested = []
    flagged = None
    k = 0
    pooled_from: float | None = None  # the start of the windows carried forward, too few to test alone
    for start, end in windows:
        if end <= 0:  # before the deployment: nothing to compare
            continue
        since = start if pooled_from is None else pooled_from
        inside = (t >= since) & (t < end) & (t >= 0)
        new, old = inside & (versions == target), inside & (versions == current)
        n_new, n_old = int(new.sum()), int(old.sum())
        entry: dict[str, Any] = {"start": start, "end": end, "new": n_new, "old": n_old}
        if since != start:
            entry["pooled_from"] = since
        tested.append(entry)
        if n_new < min_invocations or n_old < min_invocations:
            entry["verdict"] = "too few invocations"
            pooled_from = since  # tested with the next window, as one
            continue
        pooled_from = None
        k += 1
        alpha = spent_alpha(alpha_run, k) / 2  # this window's share, over its two tests
        errors_new, errors_old = int((new & ~ok).sum()), int((old & ~ok).sum())
        fast_new, fast_old = latency_ms[new & ok], latency_ms[old & ok]
        entry["alpha"] = alpha
        entry["errors_p"] = fisher_greater(errors_new, n_new, errors_old, n_old)
        entry["latency_p"] = mann_whitney_greater(fast_new, fast_old)
        entry["error_increase"] = errors_new / n_new - errors_old / n_old
        medians = (float(np.median(fast_new)), float(np.median(fast_old))) if len(fast_new) and len(fast_old) else None
        entry["latency_increase_ms"] = medians[0] - medians[1] if medians else None
        large = {"errors": entry["error_increase"] >= min_error_increase,
                 "latency": medians is not None and medians[0] - medians[1] >= min_latency_increase_ms
                 and medians[0] >= medians[1] * (1 + min_latency_increase)}
        worse = [name for name in ("errors", "latency") if entry[f"{name}_p"] < alpha and large[name]]
        entry["verdict"] = f"worse: {', '.join(worse)}" if worse else "no difference found"
        if worse and flagged is None:
            flagged = {"at": entry["end"], "on": worse, "errors_p": entry["errors_p"], "latency_p": entry["latency_p"]}
    return {"confidence": confidence, "alpha_per_test": spent_alpha(alpha_run, 1) / 2, "spending": "alpha/(k(k+1))",
            "tested": k, "windows": tested, **thresholds,
            "too_few": sum(1 for e in tested if e["verdict"] == "too few invocations"),
            "unjudged": _trailing_too_few(tested),
            "flagged_at": flagged["at"] if flagged else None, "flag": flagged}


def _trailing_too_few(windows: list[dict[str, Any]]) -> int:
    """The last windows, carried forward but never tested: too few invocations even pooled."""
    count = 0
    for entry in reversed(windows):
        if entry["verdict"] != "too few invocations":
            break
        count += 1
    return count
