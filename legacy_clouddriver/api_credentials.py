"""The `credentials` resource: `GET /credentials` (`?expand=true`) and `GET /credentials/{name}`, the accounts
this service acts in, shaped as Clouddriver's CredentialsController renders them.

A summary keeps `name`, `environment`, `accountType`, `cloudProvider`, `requiredGroupMembership`, `permissions`,
`accountId` and adds `type` (the provider), `challengeDestructiveActions` and `primaryAccount`; the expanded form
and one account's detail add the provider's own fields, here the account's `regions` as `[{"name": ...}]` (as
AWS and Titus credentials serialize them). A gateway in front of this service reads its accounts from here.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from cloud.model import Account
from legacy_clouddriver.api_ops import service
from legacy_clouddriver.errors import AccountNotFound

__all__ = ["bp", "render"]

bp = Blueprint("credentials", __name__)


def render(account: Account, *, expand: bool) -> dict[str, Any]:
    """One account as Clouddriver renders it (pure); `expand` adds its regions."""
    found: dict[str, Any] = {
        "name": account.name,
        # Clouddriver's account configurations default both to the account's name; this service has no others.
        "environment": account.name,
        "accountType": account.name,
        "cloudProvider": account.provider,
        "requiredGroupMembership": [],
        "permissions": {},
        "type": account.provider,
        "challengeDestructiveActions": False,
        "primaryAccount": False,
    }
    if expand:
        found["regions"] = [{"name": region} for region in account.regions]
    return found


@bp.get("/credentials")
def list_credentials() -> ResponseReturnValue:
    expand = request.args.get("expand", "false").lower() == "true"
    return jsonify([render(a, expand=expand) for a in service().accounts.get()])


@bp.get("/credentials/<name>")
def get_credentials(name: str) -> dict[str, Any]:
    for account in service().accounts.get():
        if account.name == name:
            return render(account, expand=True)
    raise AccountNotFound(name)
