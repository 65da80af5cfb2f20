"""shiftsim's Locust options as a Locust run of a scenario reads them: the scenario's [load] where no
flag was given, a flag where one was. Parsed by the options' own parser, in process."""

import argparse
import dataclasses

import pytest

from simulator.loadgen.options import SCENARIO_LOAD_OPTIONS, add_options, load_options
from simulator.scenario.spec import LoadSpec


def parse(*args):
    parser = argparse.ArgumentParser()
    add_options(parser)
    return load_options(parser.parse_args(list(args)))


def test_every_load_option_defaults_as_the_scenario_does():
    """A flag left at its default counts as not given: that holds only if the two defaults agree."""
    parser = argparse.ArgumentParser()
    add_options(parser)
    defaults = parser.parse_args([])
    fields = {f.name: f.default for f in dataclasses.fields(LoadSpec)}
    assert {name: getattr(defaults, name) for name in SCENARIO_LOAD_OPTIONS} == \
        {name: fields[name] for name in SCENARIO_LOAD_OPTIONS}


def test_a_scenarios_load_is_a_locust_runs_too():
    # linear-rollback: production's 600 contacts a minute, sampled at 25 a second, 8-15 s prompts
    options = parse("--scenario", "scenarios/linear-rollback.toml")
    assert (options.contacts_per_minute, options.max_contacts_per_second, options.prompt_time) == \
        (600.0, 25.0, "uniform:8:15")


@pytest.mark.parametrize("flag, value, field, expected", [
    ("--contacts-per-minute", "120", "contacts_per_minute", 120.0),
    ("--prompt-time", "fixed:1", "prompt_time", "fixed:1"),
])
def test_a_flag_given_wins_over_the_scenario(flag, value, field, expected):
    options = parse("--scenario", "scenarios/linear-rollback.toml", flag, value)
    assert getattr(options, field) == expected


def test_the_traffic_comes_whole_from_the_flags_or_the_scenario():
    """--rate given: the scenario's contacts_per_minute is not added to it (which would be refused)."""
    options = parse("--scenario", "scenarios/linear-rollback.toml", "--rate", "5")
    assert (options.rate, options.contacts_per_minute, options.prompt_time) == (5.0, 0.0, "uniform:8:15")
