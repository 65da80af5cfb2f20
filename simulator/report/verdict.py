"""A run's verdict from its summary: each of the scenario's expectations against what was measured
(or, when it states none, the default gate: what a release engineer means by "safe"), what made the
rehearsal unfaithful (which fails it), and what kept it from being judged at all (a generator far
behind, the load breaking off, a lost worker, the emulator's ceilings, alarms that could not see the
simulated Connect instance's reports, alarms the emulator does not have). Pure: a summary in, a verdict out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.deployment.alarm_inputs import SAID, named_by_arn
from simulator.report.judge import fisher_greater
from simulator.report.words import counted

# The default gate, when a scenario states no [expect]: what a release engineer means by "safe".
DEFAULT_MAX_ERROR_RATE = 0.05  # no version may fail more than this share of its invocations
DEFAULT_WORSE_P = 0.001        # the new version's errors against the old's: one-sided Fisher, at this level
DEFAULT_WORSE_BY = 0.01        # and at least this much higher an error rate (a practical difference)
MIN_JUDGED_INVOCATIONS = 20    # per window of the deployment: fewer, and a behind generator left it unjudged
CODE_DID_NOT_LOAD = ("Runtime.ImportModuleError", "Runtime.HandlerNotFound")
CONNECT_REJECTS = ("invalid_response",)  # an answer the block's validation refuses: Connect's, here as in production


@dataclass(frozen=True)
class Expectations:
    """What a scenario expects of its rehearsal; None means not checked."""

    outcome: str | None = None  # succeeded | rolled_back | stopped | failed
    rollback_within_minutes: float | None = None
    detect_within_minutes: float | None = None
    max_failed_contacts: int | None = None
    max_error_rate: float | None = None
    alarm_fires: bool | None = None
    routing_follows_weights: bool | None = None
    min_invocations: int | None = None
    max_flow_errors: int | None = None
    max_contacts_without_result: int | None = None
    max_time_to_result_seconds: float | None = None
    judge_flags_within_minutes: float | None = None


def verdict(summary: dict[str, Any], expect: Expectations) -> dict[str, Any]:
    """Each expectation with what was measured; `passed` only if all hold. With no expectation stated,
    the default gate's (marked `implicit`): the deployment succeeded, the new version fails no more
    than the old, no version fails more than a small share of its calls, the deployed function was
    called. Whatever made the rehearsal unfaithful fails it either way; a generator that fell behind
    so far that a window of the deployment had too few invocations leaves it unjudged (`judged`)."""
    d = summary["deployment"]
    checks: list[dict[str, Any]] = []
    implicit = expect == Expectations()

    # The load the generator did not deliver (report.analysis.delivered_load): the results it could turn
    untrusted: list[str] = []
    delivered = (summary.get("generator") or {}).get("delivered") or {}
    share = float(delivered.get("share", 1.0))
    short = not delivered.get("enough", True)

    def unbounded(which: str) -> str | None:
        """What the missing load could turn in a check it moves by an unknown amount (an alarm's sums)."""
        return which if short else None

    def past(count: float, limit: float, at_least: bool = False) -> bool:
        """A count at the load due (the missing contacts at the delivered ones' rate) past `limit` (at or
        over it, for a minimum)."""
        due = count / max(share, 1e-9)
        return short and (due >= limit if at_least else due > limit)

    def check(name: str, expected: Any, actual: Any, holds: bool, default: bool = False,
              load: str | None = None) -> None:
        """`load`: which result ("pass" or "fail") the load the generator did not deliver could turn."""
        checks.append({"check": name, "expected": expected, "actual": actual, "passed": bool(holds),
                       **({"implicit": True} if default else {})})
        if load is not None and load == ("pass" if holds else "fail"):
            untrusted.append(name)

    if implicit:
        _default_gate(summary, lambda name, expected, actual, holds, load=None:
                      check(name, expected, actual, holds, True, unbounded(load) if load else None))

    if expect.outcome is not None:
        check("outcome", expect.outcome, d["outcome"], d["outcome"] == expect.outcome,
              load=unbounded("pass" if expect.outcome == "succeeded" else "fail"))
    if expect.rollback_within_minutes is not None:
        at = d["rollback_at"]
        check("rollback within (emulated minutes from the start)", expect.rollback_within_minutes,
              None if at is None else round(at / 60, 2), at is not None and at <= expect.rollback_within_minutes * 60,
              load=unbounded("fail"))
    if expect.detect_within_minutes is not None:
        gap = d["first_error_to_alarm_s"]
        check("alarm within (emulated minutes from the new version's first error)", expect.detect_within_minutes,
              None if gap is None else round(gap / 60, 2), gap is not None and gap <= expect.detect_within_minutes * 60,
              load=unbounded("fail"))
    if expect.max_failed_contacts is not None:  # in production's terms when its traffic was stated
        production = summary.get("production") or {}
        failed = (production["failed_contacts_during"]["estimate"] if production.get("stated")
                  else d["failed_contacts_during"])
        check("contacts that took an error branch during the deployment, at most", expect.max_failed_contacts,
              failed, failed <= expect.max_failed_contacts,
              # a count scaled to the load due already (analysis.production_terms) stands; a count of none
              # started is no count at all
              load=None if production.get("during_weight") else
              "pass" if past(failed, expect.max_failed_contacts) or (short and not delivered["started"]) else None)
    if expect.max_error_rate is not None:
        check("error rate, at most", expect.max_error_rate, summary["error_rate"],
              summary["error_rate"] <= expect.max_error_rate)
    if expect.alarm_fires is not None:
        fired = d["alarm_fired_at"] is not None
        check("alarm fires", expect.alarm_fires, fired, fired == expect.alarm_fires,
              load=unbounded("fail" if expect.alarm_fires else "pass"))
    if expect.routing_follows_weights is not None:
        follows = summary["routing"]["follows"]
        check("routing follows the alias weights", expect.routing_follows_weights, follows,
              follows == expect.routing_follows_weights)
    if expect.min_invocations is not None:
        check("invocations, at least", expect.min_invocations, summary["invocations"],
              summary["invocations"] >= expect.min_invocations,
              load="fail" if past(summary["invocations"], expect.min_invocations, at_least=True) else None)
    if expect.max_flow_errors is not None:
        check("flow errors (error branches taken for what went wrong in a block), at most",
              expect.max_flow_errors, summary.get("flow_errors_total", 0),
              summary.get("flow_errors_total", 0) <= expect.max_flow_errors,
              load="pass" if past(summary.get("flow_errors_total", 0), expect.max_flow_errors) else None)
    if expect.judge_flags_within_minutes is not None:
        at = (summary.get("judge") or {}).get("flagged_at")
        check("the statistical judge flags the new version within (emulated minutes from the start)",
              expect.judge_flags_within_minutes, None if at is None else round(at / 60, 2),
              at is not None and at <= expect.judge_flags_within_minutes * 60, load=unbounded("fail"))
    results = summary.get("results") or {}
    if expect.max_contacts_without_result is not None:
        check("contacts that ended without their result, at most", expect.max_contacts_without_result,
              results.get("without_result"), results.get("without_result", 0) <= expect.max_contacts_without_result
              and bool(results), load="pass" if past(results.get("without_result", 0), expect.max_contacts_without_result)
              else None)
    if expect.max_time_to_result_seconds is not None:
        p95 = (results.get("all") or {}).get("p95")
        check("time to result, p95 (emulated seconds), at most", expect.max_time_to_result_seconds, p95,
              p95 is not None and p95 <= expect.max_time_to_result_seconds)
    for why in (summary.get("run_info") or {}).get("unfaithful") or ():  # never a green run that did not rehearse
        check(f"rehearsed faithfully: {why}", True, False, False)
    for why in unfaithful_by_record(summary):
        check(f"rehearsed faithfully: {why}", True, False, False)
    latest = (summary.get("deployed_bypassed") or {}).get("$LATEST")
    if latest:  # never green: in production these callers meet new code the moment it is deployed
        function, _, alias = str(summary.get("deployed_function")).partition(":")
        check(f"contacts call {function} through the alias the deployment shifts ({alias}), never its $LATEST (an ARN "
              "without a qualifier: no canary and no rollback protect those callers)", 0, latest, False)
    runaway = sum(r["count"] for r in summary.get("runaway_contacts", []))
    if runaway:  # never a silent pass: a flow that did not end is not what production would see
        check("contacts stopped as runaways (past a per-contact limit: invocations, blocks in a row without one, time)", 0, runaway, False)
    why_not = why_not_judged(summary)
    if untrusted and all(c["passed"] or c["check"] in untrusted for c in checks):
        why_not.append(short_load_said(summary["generator"], untrusted))  # no failure the missing load could not turn
    judged = not why_not
    result: dict[str, Any] = {"passed": all(c["passed"] for c in checks) and judged, "checks": checks,
                              "implicit": implicit, "judged": judged}
    if not judged:
        result["why_not_judged"] = "; ".join(why_not)
    return result


def why_not_judged(summary: dict[str, Any]) -> list[str]:
    """What kept this run from being the scenario's on AWS, whatever it recorded: a generator too far
    behind, the load breaking off, a lost worker, the emulator's own ceilings, alarms it did not
    rehearse. Each withholds the verdict."""
    generator, run_info = summary.get("generator") or {}, summary.get("run_info") or {}
    why_not: list[str] = []
    if not summary.get("invocations"):  # whatever is expected: an error rate of nothing is no pass
        why_not.append(nothing_invoked_said(summary.get("contacts", 0)))
    if not generator.get("judgeable", True):
        why_not.append(
            f"the load generator fell behind ({generator.get('displaced_contacts', generator['late_contacts'])} of "
            f"{generator['contacts_ended']} contacts started late{_by_more_than(generator)}, moving load out of the "
            f"windows it was due in) and {generator['thin_windows']} window(s) of the deployment had fewer than "
            f"{MIN_JUDGED_INVOCATIONS} invocations: {behind_because(generator)}")
    errors = run_info.get("load_errors") or []
    if errors:  # a contact loop that broke off is not the load the scenario asks for, whatever it recorded
        why_not.append(
            f"the load itself failed {sum(e['count'] for e in errors)} time(s), not the deployment (first: "
            f"{errors[0]['error']}): contacts broke off, so the record is not the scenario's load; the "
            "first traceback of each is in the log, and every one in Locust's Exceptions")
    lost = run_info.get("workers_lost") or {}
    if lost:  # from then on the load was short of the scenario's by that worker's share
        why_not.append(
            f"{counted(len(lost), 'Locust worker')} disappeared during the run ({', '.join(sorted(lost))}): the "
            "load from then on was short of the scenario's, and its counts in production's terms too")
    unreported = run_info.get("workers_unreported") or {}
    if unreported:  # the end of the run (the deployment's last windows, a rollback) is short by their share
        why_not.append(
            f"{counted(len(unreported), 'Locust worker')} ({', '.join(sorted(unreported))}) sent no report after "
            f"the test stopped: {'its' if len(unreported) == 1 else 'their'} last invocations never reached the "
            "master, so the record's end is short of what ran")
    refused = run_info.get("emulator_refused") or {}
    if refused:  # the emulator's own limits, not AWS's: what was refused would have been taken
        why_not.append(
            "the emulator refused requests at its own ceilings, which AWS would have taken ("
            + ", ".join(f"{kind}: {counted(r['requests'], 'request')} past {r['ceiling']:,}"
                        for kind, r in sorted(refused.items()))
            + "): raise them with $SHIFTSIM_EMULATOR_CEILINGS (docs/emulator.md)")
    deployed = bool((summary.get("deployment") or {}).get("deployment_id"))
    unreached = run_info.get("alarms_not_reached") or {}
    if unreached and deployed:  # on AWS: the simulator is not Connect, and publishes nothing there
        why_not.append(
            f"on AWS the simulator is not Connect and publishes none of the instance's reports, so the deployment "
            f"group's alarm(s) {', '.join(sorted(unreached))}, which read them, never saw the simulated contacts: "
            "what they would have done (roll back) was not rehearsed; rehearse it on the emulator")
    undeclared = [] if not deployed else run_info.get("alarms_undeclared") or []
    by_arn = [name for name in undeclared if named_by_arn(name)]
    if by_arn:  # CodeDeploy finds no alarm by an ARN: what it then does is not rehearsed
        why_not.append(
            f"the deployment group names alarm(s) by ARN ({', '.join(by_arn)}): CodeDeploy reads alarms by name and "
            "finds none, so whether it stops the deployment for that or goes on unguarded was not rehearsed; name "
            "them (a template's !Ref gives an alarm's name)")
    elsewhere = [name for name in undeclared if name not in by_arn]
    if elsewhere:  # production's CodeDeploy reads them wherever they were made; the emulator has none
        why_not.append(
            f"the deployment group reads alarm(s) {', '.join(elsewhere)}, which the stack does not declare: made "
            "elsewhere (another stack, by hand), production's CodeDeploy reads them, and the emulator has no such "
            "alarm, so what they would have done (roll back, or stop a healthy version) was not rehearsed; give "
            "their definitions with --alarms FILE (docs/plan.md), or declare them in the stack")
    for what, noted in sorted((run_info.get("reports_unpublished") or {}).items()):
        if noted.get("read_by") and deployed:  # those alarms missed it: their part, the rollback, was not rehearsed
            why_not.append(
                f"{unpublished_said(what, noted)}: the deployment group's alarm(s) {', '.join(noted['read_by'])} read "
                "them, so what they would have done (roll back) was not rehearsed")
    return why_not


def nothing_invoked_said(contacts: int) -> str:
    """Why a run that recorded no invocation rehearsed nothing of the deployment."""
    if contacts:
        return (f"no invocation was recorded: the {counted(contacts, 'contact')} that ran reached no Invoke AWS "
                "Lambda function block of the flow, so nothing of the deployment was rehearsed")
    return ("no invocation was recorded: no contact started before the test ended (a run time used up before "
            "the users began, on a busy machine say, or no users), so nothing of the deployment was rehearsed")


def delivered_said(delivered: dict[str, Any]) -> str:
    """How much of the load due during the deployment the generator started (analysis.delivered_load)."""
    return (f"started {delivered['started']:,} of the {delivered['due']:,.0f} {delivered['unit']} due during the "
            f"deployment ({100 * delivered['share']:.0f} %)")


def short_load_said(generator: dict[str, Any], untrusted: list[str]) -> str:
    return (f"the load generator {delivered_said(generator['delivered'])}: {behind_because(generator)}; with the "
            f"rest, {'this check' if len(untrusted) == 1 else 'these checks'} could have gone the other way: "
            + "; ".join(untrusted))


def unpublished_said(what: str, noted: dict[str, Any]) -> str:
    said = SAID.get(what, what)
    return (f"the simulated Connect instance's {said} could not all be published to the emulator "
            f"({counted(noted['failed_flushes'], 'failed flush', 'failed flushes')}; first: {noted['first_error']})")


def _default_gate(summary: dict[str, Any], check: Any) -> None:
    """The expectations of a scenario that states none."""
    d = summary["deployment"]
    if summary["invocations"] == 0:
        check("invocations, at least (nothing was rehearsed without them)", 1, 0, False)
    if d.get("deployment_id") and d["outcome"] != "none":  # a deployment the run started or watched
        check("outcome", "succeeded", d["outcome"], d["outcome"] == "succeeded", "pass")
    if summary.get("deployed_not_called"):
        check(f"the deployed function ({summary['deployed_function']}) is called by the contacts", True, False, False)
    for version, stats in summary["versions"].items():
        if version == "none" or not stats["invocations"]:
            continue
        check(f"version {version}'s error rate, at most", DEFAULT_MAX_ERROR_RATE, stats["error_rate"],
              stats["error_rate"] <= DEFAULT_MAX_ERROR_RATE)
    if not d.get("deployment_id"):  # the load alone: every function the contacts call is what it rehearsed
        for qualifier, stats in (summary.get("functions") or {}).items():
            if stats["deployed"] or not stats["invocations"]:
                continue
            rate = round(stats["errors"] / stats["invocations"], 4)
            check(f"{qualifier}'s error rate (the contacts call it; no deployment ran), at most",
                  DEFAULT_MAX_ERROR_RATE, rate, rate <= DEFAULT_MAX_ERROR_RATE)
    new, old = (summary["versions"].get(v or "") for v in (d.get("target_version"), d.get("current_version")))
    if new and old and new["invocations"] and old["invocations"]:
        p = fisher_greater(new["errors"], new["invocations"], old["errors"], old["invocations"])
        worse_by = new["errors"] / new["invocations"] - old["errors"] / old["invocations"]
        check(f"the new version fails no more than the old (one-sided p < {DEFAULT_WORSE_P:g} and at least "
              f"{100 * DEFAULT_WORSE_BY:g} points worse would fail)", "no worse",
              f"{100 * worse_by:+.2f} points, p = {p:.3g}", not (p < DEFAULT_WORSE_P and worse_by >= DEFAULT_WORSE_BY))


PRODUCTION_BROKEN_SHARE = 0.5  # production's version failing this share of its calls before the shift: not production
PRODUCTION_BROKEN_MIN_CALLS = 20


def unfaithful_by_record(summary: dict[str, Any]) -> list[str]:
    """What the record shows the rehearsal could not rehearse: code that did not load, production's
    version failing most of its calls before anything shifted (errors not injected), alarms already
    in ALARM when the deployment began (CodeDeploy stops it before any traffic shifts)."""
    found = []
    for version, stats in (summary.get("versions") or {}).items():
        broken = {r: c["injected"] + c["natural"] for r, c in stats.get("errors_by_reason", {}).items()
                  if r in CODE_DID_NOT_LOAD}
        for reason, count in broken.items():
            found.append(f"version {version}'s code did not load ({reason}, {count} invocations): a dependency "
                         "missing (requirements.txt, package.json, a published layer said at start) or a wrong Handler")
    d = summary.get("deployment") or {}
    current = (summary.get("versions") or {}).get(d.get("current_version") or "", {})
    early = current.get("before_deployment") or {}
    # what the rehearsal may lack shows as the function's failures; an answer Connect rejects is the same in production
    gaps = {r: n for r, n in (early.get("reasons") or {}).items() if r not in CONNECT_REJECTS}
    if early.get("invocations", 0) >= PRODUCTION_BROKEN_MIN_CALLS and \
            sum(gaps.values()) >= PRODUCTION_BROKEN_SHARE * early["invocations"]:
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(gaps.items(), key=lambda rn: -rn[1]))
        found.append(f"version {d['current_version']}, the one production runs, failed {sum(gaps.values())} of "
                     f"its {early['invocations']} calls before the deployment started ({reasons}): production's "
                     "version does not work here, so the rehearsal is not production (a setting, a secret, a "
                     "service or data it needs); make it work first ([environment], [[tables]], a stand-in), "
                     "then judge the change")
    before = sorted({a["alarm"] for a in d.get("alarm_transitions", []) if a["t"] <= 0})
    in_alarm = [name for name in before if _state_at(d, name, 0.0) == "ALARM"]
    if in_alarm and d.get("deployment_id"):
        found.append(f"alarm(s) {', '.join(in_alarm)} already in ALARM when the deployment started: CodeDeploy "
                     "stops it at once, and nothing of the new version is rehearsed")
    return found


def _state_at(d: dict[str, Any], alarm: str, t: float) -> str | None:
    state = None
    for transition in d.get("alarm_transitions", []):
        if transition["alarm"] == alarm and transition["t"] <= t:
            state = transition["state"]
    return state


def _by_more_than(generator: dict[str, Any]) -> str:
    return f" by more than {lag_tolerated(generator)}" if generator.get("tolerated_lag_s") else ""


def lag_tolerated(generator: dict[str, Any]) -> str:
    """How late a start may be without moving load out of its window (report.analysis.LAG_WINDOW_SHARE)."""
    return f"{generator['tolerated_lag_s']:g} s, a tenth of a window"


def behind_because(generator: dict[str, Any]) -> str:
    """Why the generator fell behind: too few users for contacts this long, else the machine."""
    short = generator.get("users_short")
    if not short:
        return "this machine could not rehearse production's load"
    return (f"its {short['users']} users start at most {short['most_per_second']:,.1f} contacts/s with contacts of "
            f"{short['contact_s']:.2f} s, fewer than the {short['driven_per_second']:,.1f}/s asked: add users (at "
            f"least {short['needed']}); a rehearsal adds them itself")
