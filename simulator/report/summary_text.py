"""The short text printed at the end of every run, from its summary: what callers met, in production's
terms where it was stated, each version and function, the contacts' endings, the judge, the deployment's
timings, the routing check, notes, and the verdict with each check."""

from __future__ import annotations

from typing import Any

from simulator.report.analysis import RACE_REAL_S
from simulator.report.judge import MIN_INVOCATIONS
from simulator.report.lateness import describe_late
from simulator.report.verdict import behind_because, delivered_said, lag_tolerated, unpublished_said
from simulator.report.words import counted


def format_summary(summary: dict[str, Any]) -> str:
    """The short text printed at the end of every run."""
    d = summary["deployment"]
    lines = [f"{counted(summary['invocations'], 'invocation')} in {counted(summary['contacts'], 'contact')}; "
             f"{counted(summary['errors'], 'error')} ({100 * summary['error_rate']:.1f} %), "
             f"{counted(summary['failed_contacts'], 'contact')} took an error branch; "
             f"{counted(summary['late_invocations'], 'invocation')} started late"]
    if summary.get("late"):
        lines.append(f"  {describe_late(summary['late'])}")
    production = summary.get("production") or {}
    if production.get("stated"):
        def terms(value: dict[str, float]) -> str:
            shown = f"{value['estimate']:,.0f}"
            return shown + (f" (95 % {value['low']:,.0f} to {value['high']:,.0f})" if value["high"] > value["low"] else "")
        lines.append(f"  in production's terms ({production['contacts_per_minute']:g} contacts/min"
                     + (f"; each contact here stood for {production['weight']:.3g}" if production["sampled"] else
                        "; driven for real") + f"): {terms(production['invocations'])} invocations, "
                     f"{terms(production['errors'])} errors; contacts that took an error branch during the "
                     f"deployment: {terms(production['failed_contacts_during'])}")
        if production.get("during_weight"):
            lines.append(f"  the generator {delivered_said(summary['generator']['delivered'])}: its counts there are "
                         f"scaled to the load due (each contact that ran stood for {production['during_weight']:.3g}), "
                         "the missing ones taken to fare as those that ran")
        if production["sampled"]:
            lines.append("  a sample does not reproduce what depends on full density: concurrency limits and "
                         "throttling, how many other contacts each one meets, and how soon a fault's first errors "
                         "come (sparser calls: an alarm may fire, and CodeDeploy roll back, a poll later)")
        if production["late_contacts"]:
            lines.append(f"  {counted(production['late_contacts'], 'contact')} started late: the generator fell behind "
                         "production's arrival rate (add users, or set " + ("a lower max_contacts_per_second)"
                         if production["sampled"] else "max_contacts_per_second to sample)"))
    elif production.get("note"):
        lines.append(f"  NOTE: {production['note']}")
    for version, stats in summary["versions"].items():
        reasons = ", ".join(f"{r} {v['injected'] + v['natural'] if isinstance(v, dict) else v}"
                            for r, v in stats.get("errors_by_reason", {}).items()) or "no errors"
        latency = stats.get("latency_ms", {})
        p95 = f", p95 {latency['p95']:.0f} ms" if latency.get("p95") is not None else ""
        lines.append(f"  version {version}: {counted(stats['invocations'], 'invocation')}, {reasons}{p95}")
        lines.extend(_said(stats))
        lines.extend(_provisioned(stats, bool(production.get("sampled"))))
    for qualifier, stats in summary.get("functions", {}).items():
        if not stats["deployed"]:
            reasons = ", ".join(f"{r} {n}" for r, n in stats["errors_by_reason"].items()) or "no errors"
            lines.append(f"  {qualifier} (blocks {', '.join(stats['blocks'])}): "
                         f"{counted(stats['invocations'], 'invocation')}, {reasons}")
            lines.extend(_said(stats))
    ended = summary.get("contact_outcomes", {})
    if ended.get("ended"):
        lines.append(f"  contacts ended: {ended['ended']:,} ("
                     + ", ".join(f"{o} {n:,}" for o, n in ended["by_outcome"].items()) + ")")
        if len(ended["by_versions_met"]) > 1:
            lines.append("  by the versions they met: " + "; ".join(
                f"{'v' + met if met != 'none' else 'none'}: " + ", ".join(f"{o} {n:,}" for o, n in outcomes.items())
                for met, outcomes in ended["by_versions_met"].items()))
    results = summary.get("results")
    if results:
        attribute = (summary.get("run_info") or {}).get("result_attribute") or "result"
        parts = [f"{value}: {r['contacts']} contacts, median {r['p50']:.1f} s, p95 {r['p95']:.1f} s"
                 for value, r in results["by_value"].items()]
        lines.append(f"  time to result ({attribute}, emulated seconds from the contact's start): "
                     + ("; ".join(parts) or "no contact got one")
                     + f"; without a result: {results['without_result']} contacts")
    if summary.get("flow_errors"):
        lines.append(f"  flow errors (each took its block's error branch): {summary['flow_errors_total']}: "
                     + "; ".join(f"{e['flow']}/{e['block']} {e['what']} x{e['count']}" for e in summary["flow_errors"]))
    for runaway in summary.get("runaway_contacts", []):
        lines.append(f"  RUNAWAY: {runaway['count']} contacts stopped past the per-contact limits, last in "
                     f"{runaway['flow']}/{runaway['block']}")
    judged = summary.get("judge") or {}
    if (judged.get("tested") or judged.get("too_few")) and not summary.get("deployed_not_called"):
        level = f"{100 * judged['confidence']:g} %"
        if judged.get("flagged_at") is not None:
            flag = judged["flag"]
            alarm = d.get("alarm_fired_at")
            said = (f"; flagging then would have spared {judged['spared_contacts_production']:,.0f} contacts "
                    "(production's terms) before the deployment ended") if "spared_contacts" in judged else (
                "; before the new version's first error or injected fault: a false flag, no contacts spared are claimed")
            lines.append(f"  statistical judge ({level}): version {d.get('target_version')} worse on {', '.join(flag['on'])} "
                         f"by {judged['flagged_at'] / 60:+.1f} min (errors p = {flag['errors_p']:.2g}, latency p = "
                         f"{flag['latency_p']:.2g}); the alarm "
                         + (f"at {alarm / 60:+.1f} min" if alarm is not None else "never fired") + said)
        elif not judged.get("tested"):
            denser = ("; a denser sample (a higher max_contacts_per_second) gives it some"
                      if (summary.get("production") or {}).get("sampled") else "")
            lines.append(f"  statistical judge ({level}): no verdict: too few invocations of each version, even with "
                         f"all the deployment's windows taken together (at least {MIN_INVOCATIONS} each){denser}")
        else:
            unjudged = judged.get("unjudged", 0)
            pooled = judged.get("too_few", 0) - unjudged
            notes = []
            if pooled:
                notes.append(f"{counted(pooled, 'window')} with too few invocations tested together with the next")
            if unjudged:
                last = "window" if unjudged == 1 else counted(unjudged, "window")
                notes.append(f"the last {last} had too few of a version to test")
            lines.append(f"  statistical judge ({level}): no difference found in {counted(judged['tested'], 'test')}"
                         + (f" ({'; '.join(notes)})" if notes else ""))
    for qualifier, count in sorted((summary.get("deployed_bypassed") or {}).items()):
        lines.append(f"  NOTE: {counted(count, 'invocation')} called {summary.get('deployed_function', '').partition(':')[0]}:"
                     f"{qualifier}, not the alias the deployment shifts: the shift never reached those callers"
                     + (" (an ARN without a qualifier calls $LATEST)" if qualifier == "$LATEST" else ""))
    if summary.get("deployed_not_called") and not summary.get("deployed_bypassed"):
        lines.append(f"  NOTE: no contact invoked {summary.get('deployed_function')} (the deployed function) itself: "
                     "something else calls it (an event source, another function), so its versions' shares and errors "
                     "are not in the record; the deployment, its alarms and what callers met are")
    if d["deployment_id"]:
        def minutes(value: float | None) -> str:
            return "-" if value is None else f"{value / 60:+.1f} min"
        lines.append(f"deployment {d['deployment_id']} ({d['config']}) {d['current_version']} -> "
                     f"{d['target_version']}: {d['outcome']}")
        if d.get("error"):  # why CodeDeploy stopped it: a hook that never reported, an alarm, ...
            lines.append(f"  CodeDeploy: {d['error'].get('message')} ({d['error'].get('code')})")
        for hook in d.get("hooks_failed") or ():
            lines.append(f"  {hook['event']}: {hook['diagnostics']}")
        lines.append(f"  first error of version {d['target_version']} {minutes(d['first_target_error_at'])}, "
                     f"alarm {minutes(d['alarm_fired_at'])}, rollback {minutes(d['rollback_at'])}, "
                     f"end {minutes(d['ended_at'])} (emulated, from the deployment's start)")
        length = f" ({d['ended_at'] / 60:.1f} min)" if d.get("ended_at") is not None else ""
        lines.append(f"  during the deployment{length}: {counted(d['failed_invocations_during'], 'failed invocation')}, "
                     f"{counted(d['failed_contacts_during'], 'contact')} took an error branch; "
                     f"{counted(summary['contacts_meeting_both_versions'], 'contact')} met both versions")
        if d.get("failed_invocations_after"):
            lines.append(f"  after it ended: {d['failed_invocations_after']} failed invocations, "
                         f"{d['failed_contacts_after']} contacts took an error branch (no deployment left to stop)")
    routing = summary["routing"]
    if routing.get("p_value") is not None:
        left_out = routing.get("left_out_near_changes") or 0
        lines.append(f"  routing vs weights: of {routing['invocations_while_split']:,} invocations while the alias was "
                     f"split, {routing['observed']:,} on the new version, {routing['expected']:,} expected "
                     f"(p = {routing['p_value']:.3g}): {'consistent' if routing['follows'] else 'NOT consistent'}"
                     + (f"; {left_out:,} within {RACE_REAL_S * 1000:g} ms of a weight change not counted" if left_out else ""))
    if not d["deployment_id"]:  # a PASS here says nothing of a deployment: said beside it
        lines.append("no deployment ran: the verdict judges the load alone, not a deployment")
    for note in (summary.get("run_info") or {}).get("notes") or ():
        lines.append(f"  NOTE: {note}")
    for line in (summary.get("run_info") or {}).get("alarm_lint") or ():  # said at start, and here by the verdict
        lines.append(f"  ALARM LINT: {line}")
    for what, noted in sorted(((summary.get("run_info") or {}).get("reports_unpublished") or {}).items()):
        if not noted.get("read_by") or not d.get("deployment_id"):
            lines.append(f"  NOTE: {unpublished_said(what, noted)}; " + (
                f"the deployment group's alarm(s) {', '.join(noted['read_by'])} read them (no deployment ran)"
                if noted.get("read_by") else "no alarm of the deployment group reads them"))
    lost = (summary.get("run_info") or {}).get("workers_lost")
    if lost:
        lines.append(f"  workers that disappeared (their rows up to then are kept): {_workers(lost)}")
    unreported = (summary.get("run_info") or {}).get("workers_unreported")
    if unreported:
        lines.append(f"  workers whose last report never came (their rows before it are kept): {_workers(unreported)}")
    generator = summary.get("generator") or {}
    if generator.get("fell_behind"):
        lag = f", up to {generator['max_lag_ms'] / 1000:.1f} s" if generator.get("max_lag_ms") is not None else ""
        lines.append(f"the load generator fell behind: {generator['late_contacts']} of {generator['contacts_ended']} "
                     f"contacts started late{lag} (" + (behind_because(generator) if generator.get("users_short")
                                                          else "a fact about this machine") + ", not the deployment; "
                     f"{_what_the_verdict_makes_of_it(generator)})")
    delivered = generator.get("delivered") or {}
    if not delivered.get("enough", True) and not generator.get("fell_behind"):  # (else said just above)
        lines.append(f"the load generator {delivered_said(delivered)}: {_UNTURNED}")
    if "verdict" in summary:
        v = summary["verdict"]
        said = "PASS" if v["passed"] else ("COULD NOT JUDGE" if v.get("judged") is False else "FAIL")
        lines.append(f"verdict: {said}" + (" (default expectations: the scenario states no [expect])"
                                           if v.get("implicit") else ""))
        if v.get("judged") is False:
            lines.append(f"  {v['why_not_judged']}")
        for c in v["checks"]:
            lines.append(f"  [{'ok' if c['passed'] else 'FAIL'}] {c['check']}: expected {c['expected']}, got {c['actual']}")
    return "\n".join(lines)


_UNTURNED = "the verdict trusts only the checks the missing load could not turn"


def _what_the_verdict_makes_of_it(generator: dict[str, Any]) -> str:
    delivered = generator.get("delivered") or {}
    if not generator["judgeable"]:
        return "the verdict could not judge"
    if not delivered.get("enough", True):
        return f"it {delivered_said(delivered)}: {_UNTURNED}"
    return f"the verdict {_still_judged(generator)}"


def _still_judged(generator: dict[str, Any]) -> str:
    """Why a generator behind still leaves the verdict standing: starts too little late to move load
    out of their windows, or windows with invocations enough."""
    if generator.get("tolerated_lag_s") and generator.get("displaced_contacts", 0) < generator["late_contacts"]:
        return (f"still judges every window: {generator['late_contacts'] - generator['displaced_contacts']} of those "
                f"starts were within {lag_tolerated(generator)}, so the windows held the load planned for them")
    return "still judges every window"


def _workers(rows_by_worker: dict[str, int]) -> str:
    return ", ".join(f"{worker} ({n} invocations)" for worker, n in rows_by_worker.items())


def _provisioned(stats: dict[str, Any], sampled: bool) -> list[str]:
    """What the alias's provisioned concurrency served of a version's invocations, and what spilled over."""
    usage = stats.get("provisioned")
    if not usage:
        return []
    line = (f"    provisioned concurrency ({usage['requested']} on the alias, shared by weight): "
            f"{usage['served']:,} served, {usage['spilled']:,} spilled over to on-demand environments, which start "
            "cold (CloudWatch's counts" + (", in production's terms; a sample's concurrency is lower than "
                                           "production's, so it spills over less)" if sampled else ")"))
    return [line]


def _said(stats: dict[str, Any]) -> list[str]:
    """What a version's or a function's failed calls said, the most frequent first, with how often."""
    said = stats.get("errors_said")
    return ["    what they said: " + "; ".join(f"{text[:160]} ({count:,})" for text, count in said)] if said else []
