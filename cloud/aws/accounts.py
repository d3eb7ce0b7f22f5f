"""The AWS accounts file: which accounts cloudops may act in, their regions, and the role to assume in each.

The file is named by the environment variable CLOUDOPS_AWS_ACCOUNTS and is JSON or YAML, a list such as

    - name: prod
      regions: [us-east-1, us-west-2]
      roleArn: arn:aws:iam::123456789012:role/spinnaker   # optional; without it the ambient credentials act

(a mapping with an `accounts:` list is accepted too). Anything wrong raises ValueError naming the file, the
entry and the fix.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cloud.model import Account

__all__ = ["ACCOUNTS_ENV", "AwsAccount", "accounts_from_environment", "load_accounts", "parse_accounts"]

ACCOUNTS_ENV = "CLOUDOPS_AWS_ACCOUNTS"

_EXAMPLE = '[{"name": "prod", "regions": ["us-east-1"], "roleArn": "arn:aws:iam::123456789012:role/spinnaker"}]'
_KEYS = {"name", "regions", "roleArn", "role_arn"}


@dataclass(frozen=True, slots=True)
class AwsAccount:
    """One entry of the accounts file."""

    name: str
    regions: tuple[str, ...]
    role_arn: str | None = None

    def to_account(self) -> Account:
        return Account(name=self.name, provider="aws", regions=self.regions)


def accounts_from_environment(environ: Mapping[str, str] | None = None) -> list[AwsAccount]:
    """The accounts of the file CLOUDOPS_AWS_ACCOUNTS names."""
    env = os.environ if environ is None else environ
    path = env.get(ACCOUNTS_ENV, "").strip()
    if not path:
        raise ValueError(
            f"{ACCOUNTS_ENV} is not set: point it at a JSON or YAML file listing the AWS accounts, e.g. {_EXAMPLE}"
        )
    return load_accounts(path)


def load_accounts(path: str | Path) -> list[AwsAccount]:
    """Read and check an accounts file (JSON or YAML)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{ACCOUNTS_ENV} names {file}, which does not exist: create it, e.g. {_EXAMPLE}") from None
    except OSError as exc:
        raise ValueError(f"cannot read the AWS accounts file {file}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"the AWS accounts file {file} is not valid JSON or YAML: {exc}") from None
    return parse_accounts(data, source=str(file))


def parse_accounts(data: Any, source: str = "the AWS accounts file") -> list[AwsAccount]:
    """Check the parsed content of an accounts file and turn it into accounts."""
    if isinstance(data, Mapping) and "accounts" in data:
        data = data["accounts"]
    if not isinstance(data, list) or not data:
        raise ValueError(f"{source} must hold a non-empty list of accounts, e.g. {_EXAMPLE}")
    accounts = [_parse_entry(entry, index, source) for index, entry in enumerate(data, start=1)]
    seen: set[str] = set()
    for account in accounts:
        if account.name in seen:
            raise ValueError(f"{source}: account {account.name!r} is listed twice; keep one entry per account")
        seen.add(account.name)
    return accounts


def _parse_entry(entry: Any, index: int, source: str) -> AwsAccount:
    where = f"{source}: account #{index}"
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where} must be a mapping with name, regions and optionally roleArn, e.g. {_EXAMPLE}")
    unknown = sorted(str(k) for k in entry if k not in _KEYS)
    if unknown:
        raise ValueError(f"{where} has unknown keys {unknown}: the keys are name, regions, roleArn")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where} needs a 'name' (a non-empty string)")
    where = f"{source}: account {name!r}"
    regions = entry.get("regions")
    if not isinstance(regions, list) or not regions or not all(isinstance(r, str) and r.strip() for r in regions):
        raise ValueError(f"{where} needs 'regions', a non-empty list of region names such as [us-east-1]")
    role = entry.get("roleArn", entry.get("role_arn"))
    if role is not None and (not isinstance(role, str) or not role.startswith("arn:")):
        raise ValueError(f"{where}: 'roleArn' must be an IAM role ARN such as arn:aws:iam::123456789012:role/name")
    return AwsAccount(name=name.strip(), regions=tuple(r.strip() for r in regions), role_arn=role)
