"""The world a sim cloud simulates: which accounts exist, in which regions, with which zones and limits.

A world file (JSON or YAML; `load_world` picks the parser by suffix, `.json` for JSON, anything else YAML, which
also reads JSON) has this shape. Only `accounts` is required; unknown keys are refused so that typos show up:

    accounts:                       # non-empty list; account names are unique
      - name: prod                  # the account name callers pass (Spinnaker's `credentials`)
        provider: aws               # the provider type: aws, titus, ...
        regions: [us-east-1, us-west-2]
      - name: titusprod
        provider: titus
        regions: [us-east-1]
    limits:
      maxInstancesPerGroup: 50      # a capacity max above this is CapacityOutOfBounds (default 100)
    zones:                          # optional, per region; default <region>a, <region>b, <region>c
      us-east-1: [us-east-1a, us-east-1c, us-east-1d]

tests/cloud/sim_world_example.yaml is a complete example. `default_world()` is the world used when none is given:
accounts `prod` and `test` (aws) and `titusprod` and `titustest` (titus), each in us-east-1, us-west-2, eu-west-1.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloud.errors import UnknownAccount, UnknownRegion
from cloud.model import JSON, Account

__all__ = ["DEFAULT_MAX_INSTANCES_PER_GROUP", "InvalidWorld", "World", "default_world", "load_world"]

DEFAULT_MAX_INSTANCES_PER_GROUP = 100
DEFAULT_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")


class InvalidWorld(ValueError):
    """A world description is malformed; the message names the file (if any), the field, and what to write."""


@dataclass(frozen=True, slots=True)
class World:
    """Accounts with their regions, zones per region, and limits. Immutable: a SimCloud never changes its world."""

    accounts: tuple[Account, ...]
    max_instances_per_group: int = DEFAULT_MAX_INSTANCES_PER_GROUP
    zones: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def account(self, name: str) -> Account | None:
        return next((a for a in self.accounts if a.name == name), None)

    def zones_of(self, region: str) -> tuple[str, ...]:
        """The availability zones of `region`: as the world file lists them, else `<region>a/b/c`."""
        return tuple(self.zones.get(region, ())) or tuple(f"{region}{suffix}" for suffix in "abc")

    def check(self, account: str, region: str) -> Account:
        """The account, if it exists and spans `region`; UnknownAccount / UnknownRegion otherwise."""
        found = self.account(account)
        if found is None:
            known = ", ".join(a.name for a in self.accounts)
            raise UnknownAccount(f"unknown account {account!r}; known accounts: {known}", account=account)
        if region not in found.regions:
            raise UnknownRegion(
                f"account {account!r} has no region {region!r}; its regions: {', '.join(found.regions)}",
                account=account,
                region=region,
            )
        return found

    def to_json(self) -> dict[str, JSON]:
        return {
            "accounts": [a.to_json() for a in self.accounts],
            "limits": {"maxInstancesPerGroup": self.max_instances_per_group},
            "zones": {region: list(zones) for region, zones in self.zones.items()},
        }

    @classmethod
    def from_json(cls, data: Any) -> World:
        """Validate and build a world from its JSON form; InvalidWorld says what is wrong."""
        if not isinstance(data, Mapping):
            raise InvalidWorld("a world must be a mapping with an `accounts` list")
        _refuse_unknown(data, {"accounts", "limits", "zones"}, "")
        accounts = _accounts(data.get("accounts"))
        limits = data.get("limits", {}) or {}
        if not isinstance(limits, Mapping):
            raise InvalidWorld("`limits` must be a mapping, e.g. {maxInstancesPerGroup: 100}")
        _refuse_unknown(limits, {"maxInstancesPerGroup"}, "limits.")
        max_instances = limits.get("maxInstancesPerGroup", DEFAULT_MAX_INSTANCES_PER_GROUP)
        if not isinstance(max_instances, int) or isinstance(max_instances, bool) or max_instances < 1:
            raise InvalidWorld(f"`limits.maxInstancesPerGroup` must be a positive integer, not {max_instances!r}")
        return cls(accounts=accounts, max_instances_per_group=max_instances, zones=_zones(data.get("zones", {})))


def _refuse_unknown(data: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise InvalidWorld(f"unknown key(s) {', '.join(prefix + k for k in unknown)}; allowed: {sorted(allowed)}")


def _string_list(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise InvalidWorld(f"`{where}` must be a non-empty list of names, not {value!r}")
    return tuple(value)


def _accounts(value: Any) -> tuple[Account, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidWorld("`accounts` must be a non-empty list of {name, provider, regions}")
    accounts: list[Account] = []
    for i, item in enumerate(value):
        where = f"accounts[{i}]"
        if not isinstance(item, Mapping):
            raise InvalidWorld(f"`{where}` must be a mapping with name, provider and regions")
        _refuse_unknown(item, {"name", "provider", "regions"}, where + ".")
        for key in ("name", "provider"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise InvalidWorld(f"`{where}.{key}` must be a non-empty string")
        if any(a.name == item["name"] for a in accounts):
            raise InvalidWorld(f"`{where}.name`: account {item['name']!r} is listed twice")
        regions = _string_list(item.get("regions"), f"{where}.regions")
        accounts.append(Account(name=item["name"], provider=item["provider"], regions=regions))
    return tuple(accounts)


def _zones(value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise InvalidWorld("`zones` must map a region to its list of zones")
    return {str(region): _string_list(zones, f"zones.{region}") for region, zones in value.items()}


def default_world() -> World:
    """Accounts prod and test (aws), titusprod and titustest (titus), each in us-east-1, us-west-2, eu-west-1."""
    return World(
        accounts=(
            Account("prod", "aws", DEFAULT_REGIONS),
            Account("test", "aws", DEFAULT_REGIONS),
            Account("titusprod", "titus", DEFAULT_REGIONS),
            Account("titustest", "titus", DEFAULT_REGIONS),
        )
    )


def load_world(path: str | Path) -> World:
    """Read a world file (format in this module's docstring); InvalidWorld names the file and the problem."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidWorld(f"cannot read world file {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidWorld(f"world file {path} is not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}") from None
    try:
        return World.from_json(data)
    except InvalidWorld as exc:
        raise InvalidWorld(f"world file {path}: {exc}") from None
