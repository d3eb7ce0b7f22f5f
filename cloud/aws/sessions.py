"""boto3 sessions per (account, region): the ambient credentials, or a role assumed with STS per account.

A real deployment runs with one identity and assumes a role in each managed account (as Clouddriver does).
`AssumeRoleSessions` gives every such account a session whose credentials refresh themselves before they
expire, through botocore's own refreshable-credentials machinery, so long-running workers never see an
expired token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, Credentials, DeferredRefreshableCredentials

__all__ = ["AssumeRoleSessions", "SessionFactory", "ambient_session"]

SessionFactory = Callable[[str, str], boto3.Session]
"""Makes the session for (account name, region)."""


def ambient_session(account: str, region: str) -> boto3.Session:
    """A session with the credentials of the environment (variables, profile, instance role)."""
    return boto3.Session(region_name=region)


class _FixedProvider(CredentialProvider):
    """Hands botocore one credentials object: ours, which refreshes itself."""

    METHOD = "cloudops-assume-role"
    CANONICAL_NAME = "custom-cloudops-assume-role"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


class AssumeRoleSessions:
    """A SessionFactory that assumes `role_arns[account]` with STS; accounts without a role use `base`'s session."""

    def __init__(
        self,
        role_arns: Mapping[str, str],
        *,
        endpoint_url: str | None = None,
        base: SessionFactory = ambient_session,
        session_name: str = "cloudops",
        duration_seconds: int = 3600,
        client_config: Config | None = None,
    ) -> None:
        self._roles = dict(role_arns)
        self._endpoint_url = endpoint_url
        self._base = base
        self._session_name = session_name
        self._duration = duration_seconds
        self._config = client_config

    def __call__(self, account: str, region: str) -> boto3.Session:
        base = self._base(account, region)
        role = self._roles.get(account)
        if role is None:
            return base
        # mypy-boto3-sts is not installed: the STS client is typed at this boundary only.
        sts: Any = base.client("sts", region_name=region, endpoint_url=self._endpoint_url, config=self._config)
        session_name = f"{self._session_name}-{account}"[:64]

        def fetch() -> dict[str, str]:
            answer = sts.assume_role(RoleArn=role, RoleSessionName=session_name, DurationSeconds=self._duration)
            creds = answer["Credentials"]
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": creds["Expiration"].isoformat(),
            }

        refreshing = DeferredRefreshableCredentials(refresh_using=fetch, method=_FixedProvider.METHOD)
        core = botocore.session.Session()
        core.register_component("credential_provider", CredentialResolver([_FixedProvider(refreshing)]))
        return boto3.Session(botocore_session=core, region_name=region)
