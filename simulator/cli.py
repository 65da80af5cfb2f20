"""`shiftsim` command line: parses arguments and hands over; no logic of its own.

A user mistake (bad scenario, ARN, flag, port) prints one line `shiftsim: error: ...` and exits 2.
"""

from __future__ import annotations

import sys

from simulator import interrupt  # first: Ctrl-C from the first line on

if sys.argv[1:2] == ["rehearse"]:  # Locust's gevent must patch before anything imports ssl
    from gevent import monkey

    monkey.patch_all()

import argparse
import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import NoReturn

from simulator.client import event_loops
from simulator.client.errors import TargetError
from simulator.client.event_loops import EventLoopError
from simulator.connect.flow import FlowError
from simulator.connect.invoke import BlockConfigError
from simulator.deployment.admin_token import TokenFileError
from simulator.deployment.arn import ArnError
from simulator.deployment.clock import MAX_SCALE
from simulator.deployment.driver import DeployError, DeploymentOutcome
from simulator.report.errors import RecordError
from simulator.report.words import counted
from simulator.scenario.alarm_tables import with_alarms_file
from simulator.scenario.handler_check import handler_problems
from simulator.scenario.reader import load_scenario
from simulator.scenario.sam import as_written
from simulator.scenario.spec import ScenarioError, StackSource

USER_ERRORS = (ScenarioError, ArnError, TargetError, BlockConfigError, FlowError, DeployError, RecordError, EventLoopError,
               TokenFileError)


def _scenario(args: argparse.Namespace):
    """The scenario a command names, with the stack its --template, --new-code and --new-ref give."""
    stack = StackSource.given(getattr(args, "template", None), getattr(args, "new_code", None),
                              getattr(args, "new_ref", None), getattr(args, "parameter", None) or ())
    return with_alarms_file(load_scenario(getattr(args, "scenario", None), stack), getattr(args, "alarms_file", None))


def stack_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--template", help="a SAM or CloudFormation template: the stack (instead of the scenario's)")
    p.add_argument("--new-code", metavar="FOLDER", help="the deployed function's new code: what the deployment publishes")
    p.add_argument("--new-ref", metavar="GIT_REF", help="the new code as this git ref of the template's repository has it")
    p.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE", help="a template parameter")


def _whole(low: int, high: int | None = None, note: str = ""):
    """An argparse type: a whole number from `low` (to `high`), else one line saying so."""
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {value!r}") from None
        if number < low or (high is not None and number > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {bounds}{note}, got {value}")
        return number
    return parse


_port = _whole(0, 65535, " (0 picks a free port)")
_count = _whole(1)


def _share(value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {value!r}") from None
    if not 0 <= share < 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to below 1, got {value!r}")
    return share


def _time_scale(value: str) -> float:
    try:
        scale = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {value!r}") from None
    if not 0 < scale <= MAX_SCALE:
        raise argparse.ArgumentTypeError(f"must be > 0 and at most {MAX_SCALE:g} (an emulated 10 minutes a real "
                                         f"second), got {value!r}")
    return scale


def _emulator(args: argparse.Namespace):
    from simulator.deployment.clock import ScaledClock
    from simulator.emulator.functions import HandlerImportError
    from simulator.emulator.server import Emulator

    scenario = _scenario(args)
    scale = args.time_scale or scenario.time_scale
    try:
        return Emulator(scenario, clock=ScaledClock(scale), seed=args.seed)
    except HandlerImportError as exc:
        raise ScenarioError(f"{args.scenario or '<default>'}: {exc}") from None
    except ValueError as exc:  # $SHIFTSIM_EMULATOR_CEILINGS that is not what it should be
        raise ScenarioError(str(exc)) from None


def cmd_serve(args: argparse.Namespace) -> int:
    from simulator.emulator.functions import HandlerImportError
    from simulator.emulator.guard import exposure_warning, serving_guard, signature_verifier
    from simulator.emulator.server import serve_until_signalled

    emulator = _emulator(args)
    try:
        verifier = signature_verifier(emulator.scenario.region) if args.verify_signatures else None
    except ValueError as exc:  # no credentials to verify against
        raise TargetError(str(exc)) from None
    try:
        guard = serving_guard(emulator.scenario, args.allow_handler, (args.host, *args.allow_host),
                              verifier, args.allow_code_upload)
    except HandlerImportError as exc:
        raise ScenarioError(f"--allow-handler: {exc}") from None
    warning = exposure_warning(args.host)
    if warning:
        print(f"shiftsim: {warning}", file=sys.stderr, flush=True)

    def announce(url: str) -> None:
        print(f"shiftsim emulator listening on {url}", flush=True)

    token_file = Path(args.admin_token_file) if args.admin_token_file else None
    try:
        event_loops.run(serve_until_signalled(emulator, args.host, args.port, announce, guard=guard,
                                              token_file=token_file, exit_with_parent=args.exit_with_parent),
                        args.event_loop)
    except OSError as exc:
        raise TargetError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    from simulator.client.aws import Target
    from simulator.client.probe import format_probe, probe_alias, require_served
    from simulator.connect.invoke import InvokeBlock

    scenario = _scenario(args)
    alias_arn = args.alias_arn or scenario.deployed_alias_arn()
    block = InvokeBlock(function_arn=alias_arn, timeout_s=args.block_timeout,
                        response_validation=args.validation)

    async def run() -> str:
        if args.target == "aws" or args.endpoint:
            target = Target(args.target, args.endpoint, args.region or scenario.region, args.profile)
            outcomes = await probe_alias(target, alias_arn, args.count, block=block)
            require_served(alias_arn, outcomes)
            return format_probe(alias_arn, outcomes)
        async with _embedded_emulator(args) as url:
            target = Target("local", url, scenario.region)
            outcomes = await probe_alias(target, alias_arn, args.count, block=block)
            require_served(alias_arn, outcomes)
            return f"embedded emulator at {url}\n" + format_probe(alias_arn, outcomes)

    print(asyncio.run(run()))
    return 0


@contextlib.asynccontextmanager
async def _embedded_emulator(args: argparse.Namespace) -> AsyncIterator[str]:
    """An emulator of the command's scenario on a free local port, for the command's length: its URL."""
    from simulator.client.aws import bypass_proxies
    from simulator.emulator.server import EmulatorServer

    server = EmulatorServer(_emulator(args))
    url = await server.start()
    bypass_proxies(url)
    try:
        yield url
    finally:
        await server.stop()


def cmd_validate(args: argparse.Namespace) -> int:
    from simulator.connect.caller import CallerSpec
    from simulator.connect.flow import load_flow
    from simulator.connect.interpreter import rehearsal_notes
    from simulator.deployment.alarm_lint import flow_facts, lint_alarms
    from simulator.emulator.cloudwatch.scenario_alarms import check_scenario_alarms
    from simulator.emulator.functions import unimportable_handlers
    from simulator.loadgen.options import DEFAULT_FLOW, flow_functions

    scenario = _scenario(args)
    problems = unimportable_handlers(sorted(scenario.handlers())) + handler_problems(scenario)
    if problems:
        raise ScenarioError(f"{args.scenario or args.template}: {'; '.join(problems)}")
    check_scenario_alarms(scenario)  # what the emulator would refuse as it starts
    flow = scenario.load.flow or DEFAULT_FLOW
    flows = load_flow(flow, flow_map=scenario.flow_map,
                      functions=flow_functions(scenario, scenario.deployed_alias_arn(), "local", flow))
    functions = ", ".join(f"{f.name} ({counted(len(f.versions), 'version')}, aliases "
                          f"{', '.join(a.name for a in f.aliases) or 'none'})" for f in scenario.functions)
    blocks = ", ".join(f"{b['flow']}/{b['block']} -> {b['invokes'].split(':function:')[1]}" for b in flows.block_targets())
    for note in scenario.notes:
        print(f"note: {note}")
    for line in scenario.provisioned_said():
        print(f"provisioned concurrency: {line}")
    for line in rehearsal_notes(flows, CallerSpec(**scenario.callers)):
        print(f"note: {line}")
    for line in flows.bypassing(scenario.deployed_alias_arn()).values():
        print(f"warning: {line}")
    for line in lint_alarms(scenario, flow_facts(flows, scenario.deployed_alias_arn())):
        print(f"alarm lint: {line}")
    print(f"{args.scenario or args.template}: ok: scenario {scenario.name!r}: {functions}; flows: {len(flows.flows)}, "
          f"Invoke blocks: {blocks or 'none'}")
    return 0


def cmd_stage(args: argparse.Namespace) -> int:
    from simulator.client.admin_client import stage_code

    body = {"handler": args.handler, "description": args.description}
    if args.faults:
        try:
            body["faults"] = json.loads(args.faults)
        except ValueError as exc:
            raise ScenarioError(f"--faults: not JSON: {exc}") from None
    body = {k: v for k, v in body.items() if v is not None}
    print(json.dumps(asyncio.run(stage_code(args.endpoint, args.function, body, args.publish,
                                            token_file=args.admin_token_file))))
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from simulator.deployment.driver import run_deployment

    scenario = _scenario(args)
    embedded = args.target == "local" and not args.endpoint
    if embedded and (args.watch_only or args.deployment_id):
        raise ScenarioError("deploy: --watch-only and --deployment-id watch a running emulator's deployment: "
                            "give its --endpoint")

    async def run() -> DeploymentOutcome:
        options = dict(target_kind=args.target, region=args.region, profile=args.profile,
                       deployment_id=args.deployment_id, watch_only=args.watch_only, config_name=args.config,
                       target_version=args.target_version, print_line=lambda line: print(line, flush=True))
        if not embedded:
            return await run_deployment(scenario, args.endpoint, **options)
        async with _embedded_emulator(args) as url:
            scale = args.time_scale or scenario.time_scale
            print(f"embedded emulator at {url} (time scale x{scale:g}; `shiftsim serve` keeps one running)", flush=True)
            return await run_deployment(scenario, url, **options)

    outcome = asyncio.run(run())
    return 0 if outcome.status == "Succeeded" else 1


def cmd_rehearse(args: argparse.Namespace) -> int:
    if args.scenario is None and args.template is None:
        raise ScenarioError("rehearse: give a scenario file, or --template")
    scenario = _scenario(args)  # a bad scenario fails here, before Locust is imported
    problems = handler_problems(scenario)
    if problems:  # every call would fail as Lambda's import error: said now, as validate says it
        raise ScenarioError(f"{args.scenario or args.template}: {'; '.join(problems)}")
    from simulator.rehearse import main_rehearse

    return main_rehearse(scenario, results=Path(args.results) if args.results else None, target=args.target,
                         time_scale=args.time_scale, seed=args.seed, alias_arn=args.alias_arn,
                         region=args.region, watch_existing=args.watch_existing, replace=args.replace_results)


def cmd_plan(args: argparse.Namespace) -> int:
    from simulator.planning.inputs import plan_inputs
    from simulator.planning.model import PlanError
    from simulator.planning.report import make_plan, table, write
    from simulator.report.record import new_run_id

    scenario = _scenario(args)
    folder = Path(args.results) if args.results else Path("results") / f"plan-{new_run_id()}"
    try:
        inputs = plan_inputs(scenario, Path(args.from_run) if args.from_run else None, error_rate=args.error_rate,
                             onset_s=args.onset, latency_shift_ms=args.latency_shift_ms,
                             contacts_per_minute=args.contacts_per_minute)
        if args.alarms:
            from simulator.planning.alarm_report import plan_alarms

            for line in plan_alarms(scenario, inputs, folder, n=min(args.simulations, 1000), seed=args.seed,
                                    exposure_minutes=args.exposure_minutes, false_rollback=args.false_rollback,
                                    progress=lambda line: print(line, file=sys.stderr, flush=True)):
                print(line)
            return 0
        plan = make_plan(inputs, scenario=scenario, n=args.simulations, seed=args.seed,
                         budget_minutes=args.budget_minutes, exposure_minutes=args.exposure_minutes)
    except PlanError as exc:
        raise ScenarioError(str(exc)) from None
    written = write(plan, folder)
    print(table(plan))
    print(f"plan: {', '.join(str(p) for p in written)}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from simulator.report.flow_log_file import finish_flow_logs
    from simulator.report.results import redraw
    from simulator.report.summary_text import format_summary

    made = finish_flow_logs(Path(args.run))  # first: notes that are not notes stop the command before it writes
    summary = redraw(Path(args.run))
    print(format_summary(summary))
    if made is not None:
        print(f"flow logs: {made} entries made from the notes the run left, in {Path(args.run) / 'flow_logs.jsonl'}")
    print(f"redrawn: {Path(args.run) / 'timeline.png'}, {Path(args.run) / 'timeline.svg'}")
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("shiftsim")
    except PackageNotFoundError:
        return "(not installed)"


class _Parser(argparse.ArgumentParser):
    """argparse, with a mistake said in one line (not the usage block), exit 2."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("shiftsim").strip()
        self.exit(2, f"shiftsim: error: {command + ': ' if command else ''}{message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="shiftsim", description="Rehearse a Lambda traffic-shifting deployment under Amazon "
                     "Connect load: an emulator of the AWS slice, Locust's load, CodeDeploy's deployment, a verdict.",
                     epilog="Exit codes: 0 the expectations hold, 1 they do not, 2 a mistake in the input, 3 shiftsim "
                     "could not go on, 130 Ctrl-C, 143 SIGTERM. Docs: README.md and docs/ in the repository.")
    parser.add_argument("--version", action="version", version=f"shiftsim {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def emulator_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--scenario", help="scenario file (TOML); default: the seed's stack")
        p.add_argument("--seed", type=int, help="seed for routing draws and fault injection")
        p.add_argument("--time-scale", type=_time_scale,
                       help="emulated seconds per real second (default: the scenario's, else 1)")
        p.add_argument("--alarms", dest="alarms_file", metavar="ALARMS_TOML",
                       help="the deployment group's alarms replaced by these (alarms.toml of `plan --alarms`)")
        stack_options(p)

    serve = sub.add_parser("serve", help="run the local AWS emulator until interrupted")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=4566, help="0 picks a free port (default 4566)")
    serve.add_argument("--allow-handler", action="append", default=[], metavar="MODULE:FUNCTION",
                       help="a handler `shiftsim stage` may set, beyond the scenario's and the built-ins")
    serve.add_argument("--allow-code-upload", action="store_true",
                       help="let CreateFunction and UpdateFunctionCode bring code for this emulator to run "
                       "(off: a request never chooses the code that runs)")
    serve.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                       help="a host name clients may call the emulator by (IP addresses and localhost always)")
    serve.add_argument("--verify-signatures", action="store_true",
                       help="accept only requests SigV4-signed with the credentials of this process's AWS "
                       "credential chain (environment, profile), as AWS does")
    serve.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument("--admin-token-file", help="where to write the admin routes' token "
                       "(default: shiftsim-UID/emulator-PORT.token in $XDG_RUNTIME_DIR or the temp folder)")
    event_loops.add_option(serve, "the emulator")
    emulator_options(serve)
    serve.set_defaults(func=cmd_serve)

    invoke = sub.add_parser("invoke", help="invoke an alias through the Connect Invoke block N times")
    invoke.add_argument("--count", type=_count, default=100)
    invoke.add_argument("--alias-arn", help="qualified alias ARN (default: the alias the scenario's deployment shifts)")
    invoke.add_argument("--endpoint", help="an emulator already running; default: start one here")
    invoke.add_argument("--target", choices=("local", "aws"), default="local")
    invoke.add_argument("--region")
    invoke.add_argument("--profile")
    invoke.add_argument("--block-timeout", type=int, default=8, help="seconds, 1..8 (default 8)")
    invoke.add_argument("--validation", choices=("STRING_MAP", "JSON"), default="STRING_MAP")
    emulator_options(invoke)
    invoke.set_defaults(func=cmd_invoke)

    deploy = sub.add_parser("deploy", help="start (or find) a CodeDeploy deployment and watch it to the end")
    deploy.add_argument("--endpoint", help="a running emulator (`shiftsim serve`); default: start one here")
    deploy.add_argument("--seed", type=int, help="the embedded emulator's seed for routing draws and faults")
    deploy.add_argument("--time-scale", type=_time_scale, help="the embedded emulator's emulated seconds per "
                        "real second (default: the scenario's, else 1)")
    deploy.add_argument("--target", choices=("local", "aws"), default="local")
    deploy.add_argument("--region")
    deploy.add_argument("--profile")
    deploy.add_argument("--scenario", help="names the application, group, function and alias")
    deploy.add_argument("--template", help="a SAM or CloudFormation template (instead of the scenario's stack)")
    deploy.add_argument("--config", help="deployment configuration (SAM short name or full name)")
    deploy.add_argument("--target-version", help="deploy this version instead of publishing one")
    deploy.add_argument("--watch-only", action="store_true",
                        help="watch the group's deployment in progress (one `sam deploy` started)")
    deploy.add_argument("--deployment-id", help="watch this deployment")
    deploy.set_defaults(func=cmd_deploy)

    rehearse = sub.add_parser("rehearse", help="run a whole rehearsal: emulator, load, deployment, verdict")
    rehearse.add_argument("scenario", nargs="?", help="scenario file (TOML); or give --template")
    stack_options(rehearse)
    rehearse.add_argument("--results", help="the run folder (default: results/<run-id>): new or empty")
    rehearse.add_argument("--replace-results", action="store_true",
                          help="--results may hold an earlier run: replace it (a run is never added to another)")
    rehearse.add_argument("--target", choices=("local", "aws"), default="local")
    rehearse.add_argument("--alias-arn", help="aws target: the alias (default: the scenario's)")
    rehearse.add_argument("--region", help="aws target: the region (default: the scenario's)")
    rehearse.add_argument("--watch-existing", action="store_true",
                          help="watch the group's deployment in progress (one `sam deploy` started)")
    rehearse.add_argument("--seed", type=int, help="seed for routing draws and fault injection")
    rehearse.add_argument("--time-scale", type=_time_scale, help="default: the scenario's")
    rehearse.add_argument("--alarms", dest="alarms_file", metavar="ALARMS_TOML",
                          help="the deployment group's alarms replaced by these (the alarms.toml `plan --alarms` wrote)")
    rehearse.set_defaults(func=cmd_rehearse)

    plan = sub.add_parser("plan", help="before the deployment: the blast radius of every configuration, simulated")
    plan.add_argument("scenario", nargs="?", help="scenario file (TOML); or give --template")
    stack_options(plan)
    plan.add_argument("--from", dest="from_run", metavar="RUN_DIR",
                      help="fit the new version's failure (error rate, onset, latency) and the traffic to a rehearsal's run")
    plan.add_argument("--error-rate", type=float, help="the bad version's share of failing calls (default: the scenario's faults)")
    plan.add_argument("--onset", type=float, help="seconds after its first traffic before it fails (default: the scenario's)")
    plan.add_argument("--latency-shift-ms", type=float, help="milliseconds the bad version adds to each call")
    plan.add_argument("--contacts-per-minute", type=float, help="production's arrivals (default: the scenario's [load])")
    plan.add_argument("--simulations", type=_count, default=20_000, help="deployments per candidate (default 20,000)")
    plan.add_argument("--budget-minutes", type=float, help="the longest a good deployment may take")
    plan.add_argument("--exposure-minutes", type=float, default=60.0,
                      help="how long a bad version at 100 %% hurts callers before someone acts (default 60)")
    plan.add_argument("--alarms", action="store_true",
                      help="search the alarms to give the group (over 1,000 definitions x each configuration); "
                      "writes alarms.toml (for rehearse --alarms) and alarms.yaml (a SAM snippet)")
    plan.add_argument("--false-rollback", type=_share, default=0.01,
                      help="with --alarms: how often a healthy version may be rolled back (default 0.01)")
    plan.add_argument("--seed", type=int, default=1)
    plan.add_argument("--results", help="the plan's folder (default: results/plan-<run-id>)")
    plan.set_defaults(func=cmd_plan)

    plot = sub.add_parser("plot", help="redraw a run's figure and summary from its record alone")
    plot.add_argument("run", help="a run folder, results/<run-id>")
    plot.set_defaults(func=cmd_plot)

    validate = sub.add_parser("validate", help="check a scenario file")
    validate.add_argument("scenario", nargs="?", help="scenario file (TOML); or give --template")
    stack_options(validate)
    validate.set_defaults(func=cmd_validate)

    stage = sub.add_parser("stage", help="replace $LATEST's code and faults on a running emulator")
    stage.add_argument("--endpoint", required=True)
    stage.add_argument("--function", default="ConnectLambdaFunction")
    stage.add_argument("--handler", help="module:function (default: the seed's version echo)")
    stage.add_argument("--description")
    stage.add_argument("--faults", help='JSON, e.g. \'{"error": {"rate": 0.2, "after": 60}}\'')
    stage.add_argument("--publish", action="store_true", help="also publish it as a new version")
    stage.add_argument("--admin-token-file", help="the token file `shiftsim serve` wrote "
                       "(default: its default for the endpoint's port; or $SHIFTSIM_ADMIN_TOKEN)")
    stage.set_defaults(func=cmd_stage)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    interrupt.begin()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress lines reach a CI log as said
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as exc:
        print(f"shiftsim: error: {as_written(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("shiftsim: interrupted", file=sys.stderr)
        return 130


def entry() -> NoReturn:
    """The `shiftsim` command: main's exit code, whatever Ctrl-C comes after it. Python sets SIGINT
    back to its default action as it shuts down (a Ctrl-C there killed the process: exit -2 where 130
    or a verdict's code was said) but leaves an ignored signal ignored."""
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)


if __name__ == "__main__":
    entry()
