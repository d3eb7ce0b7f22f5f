"""allowLaunchDescription: the legacy operation Orca sends before every AWS deploy, to share the AMI.

In Clouddriver (`AllowLaunchAtomicOperation`) it grants the target account permission to launch an AMI owned by
the `credentials` account. Its context overloads `account` as the target (`AllowLaunchPreProcessor`:
`targetAccount` defaults to `account`), and the credentials/account normalisation does not apply to it.

The clouds this toolkit drives keep images visible to every account, and `cloud.plan.MutationKind` has no
image-sharing call, so its plan reads nothing and makes no mutation (check_world still checks both accounts).
It is parsed so that Orca's deploy bodies (`[{allowLaunchDescription}, {createServerGroup}]`) are accepted as
they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from cloud.catalogue.fields import Fields
from cloud.catalogue.operation import OperationName, WorldRef
from cloud.catalogue.outputs import check_results
from cloud.model import JSON
from cloud.plan import Plan
from cloud.provider import CloudReader

__all__ = ["AllowLaunch", "parse_allow_launch"]


@dataclass(frozen=True, slots=True)
class AllowLaunch:
    """Let `target_account` launch `image`, owned by `account`, in `region`."""

    name: ClassVar[OperationName] = OperationName.ALLOW_LAUNCH
    expects_result: ClassVar[bool] = False
    replans_stably: ClassVar[bool] = False

    provider: str
    account: str
    application: str
    target_account: str
    target_account_path: str
    region: str
    image: str

    @property
    def regions(self) -> tuple[str, ...]:
        return (self.region,)

    def world_refs(self) -> tuple[WorldRef, ...]:
        return (
            WorldRef(self.account, "credentials", self.provider, self.region, "region"),
            WorldRef(self.target_account, self.target_account_path, self.provider, self.region, "region"),
        )

    def plan(self, reader: CloudReader, operation_id: str = "") -> Plan:
        facts: dict[str, JSON] = {"image": self.image, "targetAccount": self.target_account}
        return Plan(self.name.value, (), False, facts)

    def outputs(self, plan: Plan, results: Sequence[Mapping[str, JSON]]) -> dict[str, JSON]:
        check_results(plan, results)
        return {}

    def to_json(self) -> dict[str, JSON]:
        return {
            "operation": self.name.value,
            "provider": self.provider,
            "account": self.account,
            "application": self.application,
            "targetAccount": self.target_account,
            "region": self.region,
            "image": self.image,
        }


def parse_allow_launch(f: Fields, provider: str) -> AllowLaunch | None:
    """An AllowLaunch, or None with the problems in `f.errors`. Reads its own accounts (see the module doc)."""
    before = len(f.errors)
    account = f.string("credentials", required=True, hint="set credentials to the account that owns the AMI")
    target_key = "targetAccount" if f.has("targetAccount") or not f.has("account") else "account"
    target = f.string(target_key, required=True, hint="set targetAccount to the account that will launch the AMI")
    region = f.string("region", required=True, hint="set the region of the AMI, such as us-east-1")
    image = f.string("amiName", required=True, hint="name the AMI to share")
    application = f.string("application") or ""
    if len(f.errors) != before or not account or not target or region is None or image is None:
        return None
    return AllowLaunch(provider, account, application, target, target_key, region, image)
