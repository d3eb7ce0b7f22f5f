"""Readers for the fields every Spinnaker operation context shares: account, location, capacity, names.

Each follows the conventions Orca and Clouddriver use (see the reference note, section 4): the account in
`credentials` (AWS also accepts `account`), location as `region`, `regions` or `availabilityZones`,
`serverGroupName` (legacy `asgName`; which groups an operation on existing groups acts on is
`cloud.catalogue.targets`), `capacity {min,max,desired}`, `moniker {app,stack,detail,...}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cloud.catalogue.errors import ErrorCode
from cloud.catalogue.fields import Fields, join_path
from cloud.catalogue.naming import name_part_problem, parse_server_group_name
from cloud.catalogue.operation import Location
from cloud.model import Capacity

__all__ = [
    "DEPLOY_LOCATION",
    "read_account",
    "read_application",
    "read_capacity",
    "read_location",
    "read_name_part",
    "read_server_group_name",
]

DEPLOY_LOCATION = ("availabilityZones", "regions", "region")
"""Deploys and load balancers name zones; `availabilityZones` wins when a forwarded context has several keys."""


def read_account(f: Fields, provider: str) -> str | None:
    """The account from `credentials`; on AWS `account` stands in when `credentials` is absent, and `credentials`
    wins when both differ (clouddriver-aws `deploy/preprocessors/CredentialsAccountNormalizationPreProcessor.java`).
    `accountName` alone names nothing: Clouddriver's converters read `credentials` only."""
    if provider == "aws" and not f.has("credentials") and f.has("account"):
        return f.string("account", required=True, hint="set credentials to the name of the account to act in")
    if provider != "aws" and not f.has("credentials") and f.has("account"):
        f.missing("credentials", f"{provider} reads the account from 'credentials', not 'account'")
        return None
    return f.string("credentials", required=True, hint="set credentials to the name of the account to act in")


def read_location(f: Fields, order: Sequence[str], *, required: bool = True) -> Location | None:
    """Regions (with zones) from the first of `order`'s keys present; records problems with it."""
    key = next((k for k in order if f.has(k)), None)
    if key is None:
        if required:
            f.missing(order[0], "say where: set region, regions, or availabilityZones {region: [zones]}")
        return None
    if key == "region":
        region = f.string("region", required=True, hint="set it to a region name such as us-east-1")
        return Location("region", {region: ()}) if region else None
    if key == "regions":
        regions = f.string_list("regions", non_empty=True, hint="name at least one region")
        if regions is None:
            return None
        if len(set(regions)) != len(regions):
            f.fail("regions", f"'{f.path('regions')}' names a region twice: list each region once", ErrorCode.INVALID)
            return None
        return Location("regions", {r: () for r in regions})
    return _read_zones(f)


def _read_zones(f: Fields) -> Location | None:
    value = f.raw("availabilityZones")
    if not isinstance(value, Mapping):
        f.wrong_type("availabilityZones", "an object of {region: [zones]}", value)
        return None
    if not value:
        f.fail(
            "availabilityZones",
            f"'{f.path('availabilityZones')}' must name at least one region: add {{\"us-east-1\": [...]}}",
            ErrorCode.REQUIRED,
        )
        return None
    zones: dict[str, tuple[str, ...]] = {}
    ok = True
    for region, region_zones in value.items():
        path = join_path("availabilityZones", str(region))
        if not str(region).strip():
            f.fail("availabilityZones", f"'{f.path('availabilityZones')}' has an empty region name", ErrorCode.INVALID)
            ok = False
            continue
        items = f.check_string_list(path, region_zones) if region_zones is not None else ()
        if items is None:
            ok = False
            continue
        for i, zone in enumerate(items):
            if not zone.startswith(str(region)):
                f.fail(
                    join_path(path, i),
                    f"'{f.path(join_path(path, i))}' is {zone!r}, not a zone of {region}: list {region}'s zones "
                    f"(such as {region}a) under it",
                    ErrorCode.INVALID,
                )
                ok = False
        zones[str(region)] = items
    return Location("availabilityZones", zones) if ok else None


def read_capacity(f: Fields, key: str = "capacity", *, required: bool = True) -> Capacity | None:
    """`{min, max, desired}`: non-negative whole numbers with min <= desired <= max."""
    c = f.obj(key, required=required, hint="set it to {min, max, desired}")
    if c is None:
        return None
    values = [c.integer(k, required=True, minimum=0) for k in ("min", "max", "desired")]
    low, high, desired = values
    if low is None or high is None or desired is None:
        return None
    if low > high:
        c.fail("", f"'{c.path()}' has min {low} greater than max {high}: lower min or raise max", ErrorCode.RANGE)
        return None
    if not low <= desired <= high:
        c.fail(
            "desired",
            f"'{c.path('desired')}' is {desired}, outside min..max ({low}..{high}): choose a value in that range",
            ErrorCode.RANGE,
        )
        return None
    return Capacity(min=low, max=high, desired=desired)


def read_name_part(f: Fields, key: str, kind: str, *, required: bool = False) -> str | None:
    """An application, stack or detail that Spinnaker's naming accepts ("" when absent and optional)."""
    value = f.string(key, required=required, hint=f"set the {kind} name")
    if value is None:
        return None if required or f.has(key) else ""
    problem = name_part_problem(kind, value)
    if problem:
        f.fail(key, f"'{f.path(key)}' is invalid: {problem}", ErrorCode.INVALID)
        return None
    return value


def read_server_group_name(f: Fields, *, required: bool = True) -> str | None:
    """`serverGroupName` (or legacy `asgName`), which must be a Spinnaker server group name."""
    key = "serverGroupName" if f.truthy("serverGroupName") or not f.truthy("asgName") else "asgName"
    name = f.string(key, required=required, hint="name the server group, such as myapp-main-v012")
    if name is None:
        return None
    try:
        parse_server_group_name(name)
    except ValueError as exc:
        f.fail(key, f"'{f.path(key)}' is invalid: {exc}", ErrorCode.INVALID)
        return None
    return name


def read_application(f: Fields, *fallback_names: str) -> str | None:
    """`application`, else `moniker.app`, else the app part of the first of `fallback_names` ("" if none)."""
    if f.has("application"):
        return read_name_part(f, "application", "application")
    moniker = f.obj("moniker")
    if moniker is not None and moniker.has("app"):
        return read_name_part(moniker, "app", "application")
    for name in fallback_names:
        try:
            return parse_server_group_name(name).app
        except ValueError:
            continue
    return ""
