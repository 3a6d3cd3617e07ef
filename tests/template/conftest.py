"""Shared fixtures: the template as written, and as the SAM transform turns it into CloudFormation."""

import json
import os
import pathlib

import pytest
from cfnlint.decode import cfn_yaml
from samtranslator.translator.transform import transform

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class NoManagedPolicies:
    """The template names no managed policies, so the translator never needs to ask IAM for them."""

    def load(self):
        return {}


@pytest.fixture(scope="session")
def source():
    """template.yaml as written, short-form tags expanded (!Ref -> {"Ref": ...})."""
    return json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE))))


@pytest.fixture(scope="session")
def resources(source):
    """The resources after the SAM transform, as CloudFormation would create them."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    template = json.loads(json.dumps(source))
    # `sam package` replaces the local CodeUri with the uploaded artifact before the transform runs.
    template["Resources"]["ReceiverFunction"]["Properties"]["CodeUri"] = "s3://artifacts/mobway-receiver.zip"
    return transform(template, {"SignSecret": "x"}, NoManagedPolicies())["Resources"]


def of_type(resources, kind):
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def the_one(resources, kind):
    found = of_type(resources, kind)
    assert len(found) == 1, f"expected one {kind}, found {list(found)}"
    return next(iter(found.values()))
