"""shiftsim's options in Locust's own parser (so they show in the web UI and pass from the master to
its workers), and their validation into `LoadOptions` with one clear error per mistake."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.client import event_loops
from simulator.client.aws import check_endpoint
from simulator.client.errors import TargetError
from simulator.connect.function_map import FunctionMap
from simulator.deployment.arn import parse_alias_arn
from simulator.deployment.clock import MAX_CONTACTS_PER_MINUTE, MAX_SCALE
from simulator.loadgen.pacing import parse_duration_distribution
from simulator.loadgen.traffic import minute_of_day
from simulator.scenario.alarm_tables import with_alarms_file
from simulator.scenario.day_profile import Profile, ProfileError
from simulator.scenario.durations import DistributionError
from simulator.scenario.reader import load_scenario
from simulator.scenario.spec import DEFAULT_FUNCTION, LoadSpec, Scenario, ScenarioError, StackSource

REPO = Path(__file__).resolve().parent.parent.parent
DEFAULT_FLOW = REPO / "scenarios" / "flows" / "LambdaAlias-loop.json"


_UNSEEDED = random.Random()


class OptionsError(ValueError):
    pass


def add_options(parser: Any) -> None:
    group = parser.add_argument_group("shiftsim", "Contact-flow load against a Lambda alias")
    group.add_argument("--target", choices=["local", "aws"], default="local",
                       help="local: the embedded emulator (started for you without --endpoint-url); aws: real AWS")
    group.add_argument("--alias-arn", default="", help="qualified alias ARN to invoke (default: the scenario's)")
    group.add_argument("--endpoint-url", default="", help="a running emulator (local target)")
    group.add_argument("--region", default="", help="AWS region (aws target; default: the scenario's)")
    group.add_argument("--flow", default=str(DEFAULT_FLOW), help="exported Connect flow (JSON)")
    group.add_argument("--scenario", default="", help="scenario file (TOML); default: the seed's stack")
    group.add_argument("--template", default="", help="a SAM or CloudFormation template: the stack")
    group.add_argument("--new-code", default="", help="the deployed function's new code (a folder)")
    group.add_argument("--new-ref", default="", help="the new code as this git ref of the template's repository has it")
    group.add_argument("--parameter", action="append", default=[], help="a template parameter, NAME=VALUE")
    group.add_argument("--alarms", dest="alarms_file", default="",
                       help="the deployment group's alarms replaced by these (alarms.toml of `shiftsim plan --alarms`)")
    group.add_argument("--rate", type=float, default=0.0,
                       help="target invocations per second for the whole test (0: as fast as users go)")
    group.add_argument("--contacts-per-minute", type=float, default=0.0,
                       help="production's contact arrivals per emulated minute; prompts then play in emulated "
                            "seconds too (0: the users' own pace, or --rate, in real time)")
    group.add_argument("--traffic-profile", default="",
                       help="production's arrivals over the emulated day, FROM-TO=PER_MINUTE,...: "
                            "09:00-17:00=600,17:00-09:00=30 (outside every span: --contacts-per-minute)")
    group.add_argument("--start-time", default="12:00", help="the emulated time of day the test starts at (HH:MM)")
    group.add_argument("--max-contacts-per-second", type=float, default=0.0,
                       help="the most real contact starts a second; above it each contact stands for several "
                            "production ones (0: no ceiling)")
    group.add_argument("--loops-per-contact", type=int, default=10,
                       help="flow entries (the looping flow's loops) before a contact ends")
    group.add_argument("--result-attribute", default="",
                       help="a contact attribute the flow sets when the caller has their result: the time to it is "
                            "measured per contact")
    group.add_argument("--contact-duration", type=float, default=0.0,
                       help="seconds before a contact ends (0: no limit)")
    group.add_argument("--max-invocations-per-contact", type=int, default=1000,
                       help="a contact that invokes more is stopped as a runaway, and the run says so")
    group.add_argument("--max-contact-seconds", type=float, default=3600.0,
                       help="a contact that runs longer is stopped as a runaway, and the run says so")
    group.add_argument("--prompt-time", default="uniform:0.2:0.6",
                       help="seconds a prompt plays: fixed:S, uniform:LO:HI, exp:MEAN, normal:MEAN:SD")
    group.add_argument("--seed", type=int, default=-1, help="seed for the emulator and prompt times (-1: random)")
    group.add_argument("--time-scale", type=float, default=None,
                       help="emulated seconds per real second for the emulator started here (default: the scenario's)")
    group.add_argument("--deploy-after", type=float, default=-1.0,
                       help="start the deployment this many seconds into the test (-1: as the scenario's [deployment] says, or never)")
    group.add_argument("--invoker", choices=["fast", "aiobotocore"], default="fast",
                       help="fast: aiobotocore's request, re-signed and sent directly (same wire, less CPU); "
                            "aiobotocore: its invoke() on every call")
    event_loops.add_option(group, "the invocations (and the emulator started here)")
    group.add_argument("--late-threshold-ms", type=float, default=20.0,
                       help="an invocation starting later than this after its intended time is late")
    group.add_argument("--results-dir", default="results", help="where results/<run-id>/ is written")
    group.add_argument("--run-dir", default="", help="write this run's results exactly here (instead of results/<run-id>/)")
    group.add_argument("--replace-results", action="store_true", default=False,
                       help="--run-dir may hold an earlier run: replace it (never added to)")
    group.add_argument("--watch-existing", action="store_true", default=False,
                       help="do not start a deployment: watch the group's one in progress (started by `sam deploy`)")
    for action in group._group_actions:  # Locust's start form shows these; each test start reads them again
        action.include_in_web_ui = action.dest in ON_THE_START_FORM  # type: ignore[attr-defined]
        action.is_secret = action.is_required = action.is_multiple = False  # type: ignore[attr-defined]


# The options a test start applies (read again from Locust's start form each time); the others shape
# what started with Locust (the scenario's emulator, the flow, the target) and stay on the command line.
ON_THE_START_FORM = ("contacts_per_minute", "max_contacts_per_second", "traffic_profile", "start_time", "rate",
                     "loops_per_contact", "contact_duration", "prompt_time", "deploy_after")


@dataclass(frozen=True)
class LoadOptions:
    target: str
    alias_arn: str  # the alias the deployment shifts
    endpoint_url: str
    region: str
    flow: Path
    functions: FunctionMap  # which function each of the flow's Invoke blocks calls
    scenario: Scenario
    scenario_path: str
    rate: float
    contacts_per_minute: float  # production's arrivals per emulated minute (0: real-time load)
    max_contacts_per_second: float
    traffic_profile: Profile | None  # production's arrivals over the emulated day
    start_time: str
    loops_per_contact: int
    contact_duration: float
    max_invocations_per_contact: int
    max_contact_seconds: float
    prompt_time: str
    seed: int | None
    time_scale: float | None
    deploy_after: float | None
    late_threshold_s: float
    results_dir: Path
    run_dir: Path | None = None
    replace_results: bool = False  # --run-dir may hold an earlier run, to be replaced
    watch_existing: bool = False
    invoker: str = "fast"
    event_loop: str = event_loops.default_kind()
    result_attribute: str = ""  # a contact attribute the flow sets with the caller's result: timed per contact

    def prompt_sampler(self, salt: int = 0) -> Callable[[], float]:
        """Prompt times for one contact: reproducible per contact when seeded; unseeded, one shared
        generator (seeding one from the OS for every contact costs more than its prompts)."""
        rng = _UNSEEDED if self.seed is None else random.Random(self.seed + salt)
        return parse_duration_distribution(self.prompt_time, rng)

    @property
    def emulator_args(self) -> list[str]:
        args = []
        if self.scenario.file:
            args += ["--scenario", self.scenario.file]
        args += self.scenario.stack_arguments()
        if self.seed is not None:
            args += ["--seed", str(self.seed)]
        if self.time_scale:
            args += ["--time-scale", str(self.time_scale)]
        return [*args, "--event-loop", self.event_loop]


def flow_functions(scenario: Scenario, alias_arn: str, target: str, flow: Path | str | None = None) -> FunctionMap:
    """Which function each Invoke block calls: the scenario's map, the deployment's alias, and on
    the local target the scenario's stack. shiftsim's own looping flow (the default) stands in for
    the user's: its block calls the alias the deployment shifts, whatever the stack's names."""
    table = dict(scenario.function_map)
    if (flow is None or Path(flow) == DEFAULT_FLOW) and DEFAULT_FUNCTION not in scenario.qualifiers():
        deployed = parse_alias_arn(alias_arn)
        table.setdefault(DEFAULT_FUNCTION, f"{deployed.name}:{deployed.qualifier}")
    return FunctionMap(scenario.region, scenario.account, deployed=alias_arn, table=table,
                       stack=scenario.qualifiers() if target == "local" else None)


# The scenario's [load] keys that are shiftsim's Locust options of the same name
SCENARIO_LOAD_OPTIONS = ("rate", "contacts_per_minute", "max_contacts_per_second", "traffic_profile", "start_time",
                         "loops_per_contact", "result_attribute", "contact_duration", "max_invocations_per_contact",
                         "max_contact_seconds", "prompt_time")
TRAFFIC_OPTIONS = ("rate", "contacts_per_minute", "traffic_profile")


def _scenario_load_as_defaults(parsed: Any, load: LoadSpec) -> None:
    """A Locust run of a scenario takes its [load] where no flag was given (a flag left at its default
    is not given): a rehearsal and a Locust run of one scenario drive the same traffic."""
    def given(name: str) -> bool:
        return getattr(parsed, name, None) != LoadSpec.__dataclass_fields__[name].default

    # the traffic comes whole from one side: a --rate given does not meet the scenario's contacts_per_minute
    traffic_given = any(given(name) for name in TRAFFIC_OPTIONS)
    for name in SCENARIO_LOAD_OPTIONS:
        if not given(name) and not (traffic_given and name in TRAFFIC_OPTIONS):
            setattr(parsed, name, getattr(load, name))


def load_options(parsed: Any) -> LoadOptions:
    """Validate Locust's parsed options; raise OptionsError naming the option."""
    def fail(option: str, message: str) -> OptionsError:
        return OptionsError(f"--{option}: {message}")

    try:
        stack = StackSource.given(parsed.template or None, parsed.new_code or None, parsed.new_ref or None,
                                  parsed.parameter or ())
        scenario = with_alarms_file(load_scenario(parsed.scenario or None, stack), getattr(parsed, "alarms_file", ""))
    except ScenarioError as exc:
        raise OptionsError(str(exc)) from None
    _scenario_load_as_defaults(parsed, scenario.load)
    alias_arn = parsed.alias_arn or scenario.deployed_alias_arn()
    try:
        parse_alias_arn(alias_arn)
    except ValueError as exc:
        raise fail("alias-arn", str(exc)) from None
    if parsed.target == "aws" and parsed.endpoint_url:
        raise fail("endpoint-url", "only for the local target")
    if parsed.endpoint_url:
        try:
            check_endpoint(parsed.endpoint_url)
        except TargetError as exc:
            raise fail("endpoint-url", str(exc)) from None
    for option, folder in (("results-dir", parsed.results_dir), ("run-dir", parsed.run_dir)):
        if folder and Path(folder).exists() and not Path(folder).is_dir():
            raise fail(option, f"{folder} is a file, not a folder")
    flow = Path(scenario.load.flow if parsed.flow == str(DEFAULT_FLOW) and scenario.load.flow else parsed.flow)
    if not flow.exists():
        raise fail("flow", f"no such file: {flow}")
    functions = flow_functions(scenario, alias_arn, parsed.target, flow)
    if parsed.rate < 0:
        raise fail("rate", f"must be >= 0, got {parsed.rate}")
    for option in ("contacts_per_minute", "max_contacts_per_second"):
        if getattr(parsed, option) < 0:
            raise fail(option.replace("_", "-"), f"must be >= 0, got {getattr(parsed, option)}")
    try:
        minute_of_day(parsed.start_time, 0)
    except ProfileError as exc:
        raise fail("start-time", str(exc)) from None
    try:
        profile = Profile.parse(parsed.traffic_profile, parsed.contacts_per_minute) if parsed.traffic_profile else None
    except ProfileError as exc:
        raise fail("traffic-profile", str(exc)) from None
    if (parsed.contacts_per_minute or profile) and parsed.rate:
        raise fail("rate", "give --contacts-per-minute (production's arrivals) or --rate, not both")
    if (parsed.target == "aws" and parsed.max_contacts_per_second
            and parsed.contacts_per_minute / 60 > parsed.max_contacts_per_second):
        raise fail("max-contacts-per-second", "sampling needs the emulator (AWS's CloudWatch counts each real "
                   "invocation once): on AWS, drive production's rate for real")
    if parsed.loops_per_contact < 1:
        raise fail("loops-per-contact", f"must be >= 1, got {parsed.loops_per_contact}")
    if parsed.contact_duration < 0:
        raise fail("contact-duration", f"must be >= 0, got {parsed.contact_duration}")
    if parsed.max_invocations_per_contact < 1:
        raise fail("max-invocations-per-contact", f"must be >= 1, got {parsed.max_invocations_per_contact}")
    if not parsed.max_contact_seconds > 0:
        raise fail("max-contact-seconds", f"must be > 0, got {parsed.max_contact_seconds}")
    if parsed.time_scale is not None and not 0 < parsed.time_scale <= MAX_SCALE:
        raise fail("time-scale", f"must be > 0 and at most {MAX_SCALE:g} (an emulated 10 minutes a real second), "
                   f"got {parsed.time_scale:g}")
    if not 0 <= parsed.contacts_per_minute <= MAX_CONTACTS_PER_MINUTE:
        raise fail("contacts-per-minute", f"must be from 0 to {MAX_CONTACTS_PER_MINUTE:,.0f}, got "
                   f"{parsed.contacts_per_minute:g}")
    try:
        parse_duration_distribution(parsed.prompt_time, random.Random(0))
    except DistributionError as exc:
        raise fail("prompt-time", str(exc)) from None
    try:
        event_loops.loop_class(parsed.event_loop)
    except event_loops.EventLoopError as exc:
        raise OptionsError(str(exc)) from None
    deploy_after: float | None = parsed.deploy_after if parsed.deploy_after >= 0 else None
    if deploy_after is None and (parsed.scenario or parsed.template) and scenario.deployment and scenario.deployment.requested:
        deploy_after = scenario.deployment.start_after
    if parsed.watch_existing and deploy_after is None:
        deploy_after = 0.0
    return LoadOptions(
        target=parsed.target, alias_arn=alias_arn, endpoint_url=parsed.endpoint_url,
        region=parsed.region or scenario.region, flow=flow, functions=functions, scenario=scenario,
        scenario_path=parsed.scenario, rate=parsed.rate, loops_per_contact=parsed.loops_per_contact,
        result_attribute=parsed.result_attribute or scenario.load.result_attribute,
        contacts_per_minute=parsed.contacts_per_minute, max_contacts_per_second=parsed.max_contacts_per_second,
        traffic_profile=profile, start_time=parsed.start_time,
        contact_duration=parsed.contact_duration, prompt_time=parsed.prompt_time,
        max_invocations_per_contact=parsed.max_invocations_per_contact,
        max_contact_seconds=parsed.max_contact_seconds,
        seed=None if parsed.seed < 0 else parsed.seed, time_scale=parsed.time_scale,
        deploy_after=deploy_after, late_threshold_s=parsed.late_threshold_ms / 1000.0,
        results_dir=Path(parsed.results_dir), run_dir=Path(parsed.run_dir) if parsed.run_dir else None,
        replace_results=bool(getattr(parsed, "replace_results", False)),
        watch_existing=bool(parsed.watch_existing), invoker=parsed.invoker, event_loop=parsed.event_loop)
