"""Provider-specific server group settings, read from a deploy context into `ServerGroupSpec.settings`.

Only the keys each provider's deploy description knows are copied (CD `BasicAmazonDeployDescription`,
`TitusDeployDescription`): Orca forwards the whole stage context, and copying its unrelated keys would make two
specs of the same deploy differ for no reason. Each value is type-checked; the result is plain JSON.
"""

from __future__ import annotations

from enum import StrEnum

from cloud.catalogue.fields import Fields
from cloud.model import JSON

__all__ = ["IMAGE_KEYS", "SettingKind", "read_settings", "setting_keys"]

IMAGE_KEYS = {"aws": "amiName", "titus": "imageId"}
"""The context key naming the image to run: an AMI name on AWS, a container image on Titus."""


class SettingKind(StrEnum):
    STRING = "string"
    COUNT = "count"
    BOOLEAN = "boolean"
    STRINGS = "strings"
    STRING_MAP = "string_map"
    OBJECT = "object"
    LIST = "list"


_K = SettingKind
_SETTINGS: dict[str, dict[str, SettingKind]] = {
    "aws": {
        "instanceType": _K.STRING,
        "subnetType": _K.STRING,
        "iamRole": _K.STRING,
        "keyPair": _K.STRING,
        "healthCheckType": _K.STRING,
        "healthCheckGracePeriod": _K.COUNT,
        "targetGroups": _K.STRINGS,
        "associatePublicIpAddress": _K.BOOLEAN,
        "ebsOptimized": _K.BOOLEAN,
        "instanceMonitoring": _K.BOOLEAN,
        "spotPrice": _K.STRING,
        "base64UserData": _K.STRING,
        "suspendedProcesses": _K.STRINGS,
        "terminationPolicies": _K.STRINGS,
        "enabledMetrics": _K.STRINGS,
        "cooldown": _K.COUNT,
        "blockDevices": _K.LIST,
        "setLaunchTemplate": _K.BOOLEAN,
        "requireIMDSv2": _K.BOOLEAN,
        "capacityRebalance": _K.BOOLEAN,
    },
    "titus": {
        "capacityGroup": _K.STRING,
        "iamProfile": _K.STRING,
        "inService": _K.BOOLEAN,
        "env": _K.STRING_MAP,
        "labels": _K.STRING_MAP,
        "containerAttributes": _K.STRING_MAP,
        "entryPoint": _K.STRING,
        "cmd": _K.STRING,
        "user": _K.STRING,
        "jobType": _K.STRING,
        "hardConstraints": _K.STRINGS,
        "softConstraints": _K.STRINGS,
        "migrationPolicy": _K.OBJECT,
        "targetGroups": _K.STRINGS,
    },
}
# Titus resources: (key, must be > 0, whole number). CD TitusDeployDescriptionValidator rejects cpu/memory/disk <= 0.
_TITUS_RESOURCES = (
    ("cpu", True, False),
    ("memory", True, True),
    ("disk", True, True),
    ("networkMbps", False, True),
    ("gpu", False, True),
)


def setting_keys(provider: str) -> tuple[str, ...]:
    """The provider-specific keys `read_settings` copies (Titus also copies `resources`)."""
    extra = ("resources",) if provider == "titus" else ()
    return tuple(_SETTINGS.get(provider, {})) + extra


def read_settings(f: Fields, provider: str, *, require_resources: bool = False) -> dict[str, JSON]:
    """The provider-specific settings present in the context, type-checked; problems go to `f.errors`."""
    settings: dict[str, JSON] = {}
    for key, kind in _SETTINGS.get(provider, {}).items():
        if not f.has(key):
            continue
        value = _read(f, key, kind)
        if value is not None:
            settings[key] = value
    if provider == "titus":
        resources = _read_resources(f, required=require_resources)
        if resources is not None:
            settings["resources"] = resources
    return settings


def _read(f: Fields, key: str, kind: SettingKind) -> JSON:
    match kind:
        case SettingKind.STRING:
            return f.string(key)
        case SettingKind.COUNT:
            return f.integer(key, minimum=0)
        case SettingKind.BOOLEAN:
            return f.boolean(key)
        case SettingKind.STRINGS:
            strings = f.string_list(key)
            return None if strings is None else list(strings)
        case SettingKind.STRING_MAP:
            return f.string_map(key)
        case SettingKind.OBJECT:
            return f.json_object(key)
        case SettingKind.LIST:
            return f.json_list(key)


def _read_resources(f: Fields, *, required: bool) -> dict[str, JSON] | None:
    r = f.obj("resources", required=required, hint="set {cpu, memory, disk, networkMbps} for the container")
    if r is None:
        return None
    before = len(f.errors)
    resources: dict[str, JSON] = {}
    for key, positive, whole in _TITUS_RESOURCES:
        if required and positive and not r.has(key):
            r.missing(key, f"set resources.{key} to a number greater than 0")
            continue
        value = r.integer(key, minimum=1 if positive else 0) if whole else r.number(key, positive=positive)
        if value is not None:
            resources[key] = value
    if r.has("allocateIpAddress"):
        resources["allocateIpAddress"] = r.boolean("allocateIpAddress")
    return resources if len(f.errors) == before else None
