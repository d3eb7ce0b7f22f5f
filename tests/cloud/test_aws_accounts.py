"""The AWS accounts file behind `AwsProvider.from_environment`: what it accepts, and what it says when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.aws import AwsAccount, AwsProvider, load_accounts
from cloud.aws.accounts import parse_accounts
from cloud.factory import open_provider

ROLE = "arn:aws:iam::123456789012:role/spinnaker"


def test_yaml_and_json_files(tmp_path: Path) -> None:
    yaml_file = tmp_path / "accounts.yaml"
    yaml_file.write_text(f"accounts:\n  - name: prod\n    regions: [us-east-1, us-west-2]\n    roleArn: {ROLE}\n")
    assert load_accounts(yaml_file) == [AwsAccount("prod", ("us-east-1", "us-west-2"), ROLE)]
    json_file = tmp_path / "accounts.json"
    json_file.write_text('[{"name": "test", "regions": ["eu-west-1"]}, {"name": "prod", "regions": ["us-east-1"]}]')
    accounts = load_accounts(json_file)
    assert [a.name for a in accounts] == ["test", "prod"] and accounts[0].role_arn is None
    assert accounts[0].to_account().provider == "aws"


def test_from_environment_builds_the_accounts(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yml"
    path.write_text(f"- name: prod\n  regions: [us-east-1]\n  role_arn: {ROLE}\n")
    provider = AwsProvider.from_environment(environ={"CLOUDOPS_AWS_ACCOUNTS": str(path)})
    assert [(a.name, a.regions) for a in provider.accounts()] == [("prod", ("us-east-1",))]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "non-empty list of accounts"),
        ("[]", "non-empty list of accounts"),
        ("name: prod", "non-empty list of accounts"),
        ("- prod", "must be a mapping"),
        ("- regions: [us-east-1]", "needs a 'name'"),
        ("- name: prod", "needs 'regions'"),
        ("- name: prod\n  regions: us-east-1", "needs 'regions'"),
        ("- name: prod\n  regions: []", "needs 'regions'"),
        ("- name: prod\n  regions: [us-east-1]\n  roleArn: spinnaker", "IAM role ARN"),
        ("- name: prod\n  regions: [us-east-1]\n  rolearn: x", "unknown keys ['rolearn']"),
        ("- {name: prod, regions: [us-east-1]}\n- {name: prod, regions: [us-west-2]}", "listed twice"),
        ("- name: [unclosed", "not valid JSON or YAML"),
    ],
)
def test_a_malformed_file_says_what_is_wrong(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(content)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")) as raised:
        AwsProvider.from_environment(environ={"CLOUDOPS_AWS_ACCOUNTS": str(path)})
    assert str(path) in str(raised.value)


def test_a_bad_json_file(tmp_path: Path) -> None:
    path = tmp_path / "accounts.json"
    path.write_text("[{'name': 'prod'}]")
    with pytest.raises(ValueError, match="not valid JSON or YAML"):
        load_accounts(path)


def test_a_missing_setting_or_file_says_how_to_fix_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="CLOUDOPS_AWS_ACCOUNTS is not set.*roleArn"):
        AwsProvider.from_environment(environ={})
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ValueError, match="does not exist: create it"):
        AwsProvider.from_environment(environ={"CLOUDOPS_AWS_ACCOUNTS": str(missing)})
    with pytest.raises(ValueError, match="cannot read"):
        AwsProvider.from_environment(environ={"CLOUDOPS_AWS_ACCOUNTS": str(tmp_path)})  # a directory
    monkeypatch.setenv("CLOUDOPS_AWS_ACCOUNTS", str(missing))
    with pytest.raises(ValueError, match="does not exist"):
        open_provider("aws")


def test_parse_accepts_already_loaded_data() -> None:
    assert parse_accounts([{"name": " prod ", "regions": [" us-east-1 "]}]) == [AwsAccount("prod", ("us-east-1",))]
