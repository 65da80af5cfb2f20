"""A template's parameters held to their constraints as CloudFormation holds them: a value it would
refuse is one line in its words, exit 2 (it was taken, and the rehearsal ran another stack)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from simulator.scenario.template_parameters import parameter_problem
from tests.helpers import ROOT


@pytest.mark.parametrize("spec, value, said", [
    ({"AllowedValues": ["prod", "dev"]}, "staging", "Parameter 'P' must be one of AllowedValues"),
    ({"AllowedValues": ["prod", "dev"]}, "dev", None),
    ({"AllowedValues": [True, False]}, "false", None),  # YAML's booleans, as CloudFormation reads them
    ({"AllowedPattern": "[a-z]+"}, "abc1", "Parameter 'P' must match pattern [a-z]+"),  # the whole value
    ({"AllowedPattern": "[a-z]+"}, "abc", None),
    ({"MinLength": 3}, "ab", "Parameter 'P' must contain at least 3 characters"),
    ({"MaxLength": 3}, "abcd", "Parameter 'P' must contain at most 3 characters"),
    ({"Type": "Number"}, "ten", "Parameter 'P' must be a number"),
    ({"Type": "Number", "MinValue": 1}, "0", "Parameter 'P' must be a number not less than 1"),
    ({"Type": "Number", "MaxValue": 10}, 11, "Parameter 'P' must be a number not greater than 10"),
    ({"Type": "Number", "MinValue": 1, "MaxValue": 10}, "5", None),
    ({"AllowedValues": ["a"], "ConstraintDescription": "one of a"}, "b", "Parameter P failed to satisfy constraint: one of a"),
    ({"Type": "CommaDelimitedList", "AllowedValues": ["a"]}, "b,c", None),  # lists are left to CloudFormation
])
def test_each_constraint_in_cloudformations_words(spec, value, said):
    assert parameter_problem("P", spec, value) == said


def test_a_value_outside_allowed_values_is_refused_when_read(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    template = tmp_path / "template.yaml"
    template.write_text("Transform: AWS::Serverless-2016-10-31\nParameters:\n  Env:\n    Type: String\n    Default: prod\n"
                        "    AllowedValues: [prod, dev]\nResources:\n  F:\n    Type: AWS::Serverless::Function\n"
                        "    Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.11, AutoPublishAlias: live,\n"
                        "                 DeploymentPreference: {Type: AllAtOnce}}\n")
    command = [sys.executable, "-m", "simulator.cli", "validate", "--template", str(template)]
    assert subprocess.run([*command, "--parameter", "Env=dev"], capture_output=True, text=True, timeout=120,
                          cwd=ROOT).returncode == 0
    done = subprocess.run([*command, "--parameter", "Env=staging"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr == f"shiftsim: error: {template}: Parameter 'Env' must be one of AllowedValues\n"
