"""Names and limits AWS defines (CloudWatch alarms, CodeDeploy Lambda configurations, PutLogEvents), shared by the
scenario validator and the emulator (so a scenario is checked against exactly what the emulator
accepts).
"""

from __future__ import annotations

from functools import cache, lru_cache

from simulator.service_models import service_model

CHANNELS = ("VOICE", "CHAT", "TASK", "EMAIL")  # a contact's, as Connect's API names them
TREATMENTS = ("missing", "notBreaching", "breaching", "ignore")  # a string in botocore's model, no enum
# What Lambda publishes in AWS/Lambda (its developer guide's list of function metrics), and of those
# what the emulator publishes: an alarm on another name stays INSUFFICIENT_DATA here
LAMBDA_METRICS = ("Invocations", "Errors", "DeadLetterErrors", "DestinationDeliveryFailures", "Throttles",
                  "OversizedRecordCount", "ProvisionedConcurrencyInvocations",
                  "ProvisionedConcurrencySpilloverInvocations", "RecursiveInvocationsDropped", "Duration",
                  "PostRuntimeExtensionsDuration", "IteratorAge", "OffsetLag", "ConcurrentExecutions",
                  "ProvisionedConcurrentExecutions", "ProvisionedConcurrencyUtilization",
                  "UnreservedConcurrentExecutions", "ClaimedAccountConcurrency", "AsyncEventsReceived",
                  "AsyncEventAge", "AsyncEventsDropped")
LAMBDA_METRICS_EMULATED = ("Invocations", "Errors", "Duration", "Throttles", "ProvisionedConcurrencyInvocations",
                           "ProvisionedConcurrencySpilloverInvocations")


@cache
def cloudwatch_enum(shape: str) -> tuple[str, ...]:
    """An enumeration of botocore's CloudWatch model (Statistic, ComparisonOperator, StateValue,
    StandardUnit), read when first needed: what AWS accepts follows botocore, not a list kept here."""
    return tuple(service_model("cloudwatch").shape_for(shape).enum)


def statistics() -> tuple[str, ...]:
    """SampleCount, Average, Sum, Minimum, Maximum."""
    return cloudwatch_enum("Statistic")


def threshold_comparisons() -> tuple[str, ...]:
    """The comparison operators that compare with a Threshold; the others (LessThanLowerThreshold ...)
    compare with an anomaly detection band's bounds."""
    return tuple(op for op in cloudwatch_enum("ComparisonOperator") if "Lower" not in op and "Upper" not in op)

# SAM's DeploymentPreference types -> (routing type, percentage, interval in minutes)
PREDEFINED_LAMBDA_CONFIGS: dict[str, tuple[str, int, int]] = {
    "Canary10Percent5Minutes": ("TimeBasedCanary", 10, 5),
    "Canary10Percent10Minutes": ("TimeBasedCanary", 10, 10),
    "Canary10Percent15Minutes": ("TimeBasedCanary", 10, 15),
    "Canary10Percent30Minutes": ("TimeBasedCanary", 10, 30),
    "Linear10PercentEvery1Minute": ("TimeBasedLinear", 10, 1),
    "Linear10PercentEvery2Minutes": ("TimeBasedLinear", 10, 2),
    "Linear10PercentEvery3Minutes": ("TimeBasedLinear", 10, 3),
    "Linear10PercentEvery10Minutes": ("TimeBasedLinear", 10, 10),
    "AllAtOnce": ("AllAtOnce", 0, 0),
}
PREFIX = "CodeDeployDefault.Lambda"


def deployment_config_name(name: str) -> str:
    """A SAM short name (`Canary10Percent5Minutes`) or a full name -> the full CodeDeploy name."""
    if name.startswith(PREFIX) and name[len(PREFIX):] in PREDEFINED_LAMBDA_CONFIGS:
        return name
    if name in PREDEFINED_LAMBDA_CONFIGS:
        return PREFIX + name
    raise ValueError(f"unknown deployment configuration {name!r}; expected one of "
                     f"{', '.join(PREDEFINED_LAMBDA_CONFIGS)} (or a [deployment.custom_config])")

WEIGHT_HEADER = "X-Shiftsim-Weight"  # on an Invoke: a sampled rehearsal's invocation stands for this many

# PutLogEvents' limits, which the emulator enforces and the simulated Connect instance batches within
LOGS_MAX_BATCH_EVENTS = 10_000
LOGS_MAX_BATCH_BYTES = 1_048_576  # the messages' UTF-8 bytes, plus LOGS_EVENT_OVERHEAD an event
LOGS_MAX_EVENT_BYTES = 262_144
LOGS_EVENT_OVERHEAD = 26


@lru_cache(maxsize=1024)  # one invocation's sets depend only on these three names
def lambda_dimension_sets(function_name: str, alias: str | None,
                          executed_version: str | None) -> tuple[frozenset[tuple[str, str]], ...]:
    """The dimension sets Lambda publishes one invocation under."""
    function = ("FunctionName", function_name)
    sets = [frozenset(), frozenset({function})]
    if alias is not None:
        resource = frozenset({function, ("Resource", f"{function_name}:{alias}")})
        sets.append(resource)
        if executed_version is not None:
            sets.append(resource | {("ExecutedVersion", executed_version)})
    elif executed_version not in (None, "$LATEST"):
        sets.append(frozenset({function, ("Resource", f"{function_name}:{executed_version}")}))
    return tuple(sets)
