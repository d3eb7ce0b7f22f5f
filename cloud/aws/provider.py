"""`AwsProvider`: the CloudProvider over boto3 (Auto Scaling, EC2, classic ELB), one set of clients per region.

It routes each call to the `RegionApi` of its (account, region), made on first use from the session factory,
and keeps the token ledger every mutation claims. Every public method raises only `cloud.errors.CloudError`.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from botocore.config import Config

from cloud.aws import load_balancers, server_groups
from cloud.aws.accounts import accounts_from_environment
from cloud.aws.describe import in_cluster
from cloud.aws.errors import aws_errors
from cloud.aws.ledger import MemoryTokenLedger, TokenLedger
from cloud.aws.region import RegionApi
from cloud.aws.sessions import AssumeRoleSessions, SessionFactory, ambient_session
from cloud.errors import CloudError, UnknownAccount, UnknownRegion
from cloud.model import Account, Capacity, Instance, LoadBalancer, LoadBalancerSpec, ServerGroup, ServerGroupSpec

if TYPE_CHECKING:
    import boto3

__all__ = ["AwsProvider", "default_client_config"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def default_client_config() -> Config:
    """Bounded botocore retries: the callers retry too, with the same token, so botocore need not try for long."""
    return Config(
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        user_agent_extra="cloudops",
    )


def _only_cloud_errors(method: Callable[Concatenate[AwsProvider, P], R]) -> Callable[Concatenate[AwsProvider, P], R]:
    """Keep the protocol's promise that nothing but CloudError leaves a provider, even on a bug of ours."""

    @functools.wraps(method)
    def wrapper(self: AwsProvider, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except CloudError:
            raise
        except Exception as exc:
            log.exception("unexpected failure in AwsProvider.%s", method.__name__)
            raise CloudError(f"unexpected failure in the aws provider ({method.__name__}): {exc!r}") from exc

    return wrapper


class AwsProvider:
    """A CloudProvider for AWS accounts. Thread-safe; see the `cloud.aws` docstring for idempotency and its limits."""

    def __init__(
        self,
        accounts: Sequence[Account],
        *,
        endpoint_url: str | None = None,
        session_factory: Callable[[str, str], boto3.Session] | None = None,
        client_config: Config | None = None,
        ledger: TokenLedger | None = None,
    ) -> None:
        names = [a.name for a in accounts]
        if len(set(names)) != len(names):
            raise ValueError(f"account names must be unique, got {names}")
        self._accounts = {a.name: a for a in accounts}
        self._endpoint_url = endpoint_url
        self._sessions: SessionFactory = ambient_session if session_factory is None else session_factory
        self._config = default_client_config() if client_config is None else client_config
        self.ledger: TokenLedger = MemoryTokenLedger() if ledger is None else ledger
        self._regions: dict[tuple[str, str], RegionApi] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_environment(
        cls,
        endpoint_url: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        client_config: Config | None = None,
    ) -> AwsProvider:
        """Accounts from the file CLOUDOPS_AWS_ACCOUNTS names; each account's roleArn is assumed with STS.

        Raises ValueError saying what is wrong with the file and how to fix it.
        """
        accounts = accounts_from_environment(environ)
        config = default_client_config() if client_config is None else client_config
        roles = {a.name: a.role_arn for a in accounts if a.role_arn}
        sessions = AssumeRoleSessions(roles, endpoint_url=endpoint_url, client_config=config)
        return cls(
            [a.to_account() for a in accounts],
            endpoint_url=endpoint_url,
            session_factory=sessions,
            client_config=config,
        )

    def _api(self, account: str, region: str) -> RegionApi:
        known = self._accounts.get(account)
        if known is None:
            raise UnknownAccount(
                f"unknown aws account {account!r}; known: {sorted(self._accounts)}", account=account, region=region
            )
        if region not in known.regions:
            raise UnknownRegion(
                f"account {account} has no region {region!r}; its regions: {list(known.regions)}",
                account=account,
                region=region,
            )
        key = (account, region)
        with self._lock:
            # boto3 sessions are not thread-safe, so sessions and clients are only ever made under the lock.
            api = self._regions.get(key)
            if api is None:
                with aws_errors(account, region):
                    session = self._sessions(account, region)
                    url, config = self._endpoint_url, self._config
                    api = RegionApi(
                        account,
                        region,
                        autoscaling=session.client("autoscaling", region_name=region, endpoint_url=url, config=config),
                        ec2=session.client("ec2", region_name=region, endpoint_url=url, config=config),
                        elb=session.client("elb", region_name=region, endpoint_url=url, config=config),
                    )
                self._regions[key] = api
            return api

    # CloudReader

    def accounts(self) -> list[Account]:
        return list(self._accounts.values())

    @_only_cloud_errors
    def list_server_groups(self, account: str, region: str, cluster: str | None = None) -> list[ServerGroup]:
        api = self._api(account, region)
        groups = [g for g in api.groups() if cluster is None or in_cluster(g["AutoScalingGroupName"], cluster)]
        return sorted(api.server_groups(groups), key=lambda g: g.name)

    @_only_cloud_errors
    def describe_server_group(self, account: str, region: str, name: str) -> ServerGroup | None:
        api = self._api(account, region)
        group = api.group(name)
        return None if group is None else api.server_groups([group])[0]

    @_only_cloud_errors
    def describe_instances(self, account: str, region: str, server_group: str) -> list[Instance]:
        return server_groups.instances_of(self._api(account, region), server_group)

    @_only_cloud_errors
    def describe_load_balancer(self, account: str, region: str, name: str) -> LoadBalancer | None:
        return load_balancers.describe_load_balancer(self._api(account, region), name)

    # CloudProvider

    @_only_cloud_errors
    def create_server_group(self, account: str, region: str, spec: ServerGroupSpec, token: str) -> ServerGroup:
        return server_groups.create_server_group(self._api(account, region), self.ledger, spec, token)

    @_only_cloud_errors
    def resize_server_group(self, account: str, region: str, name: str, capacity: Capacity, token: str) -> ServerGroup:
        return server_groups.resize_server_group(self._api(account, region), self.ledger, name, capacity, token)

    @_only_cloud_errors
    def enable_server_group(self, account: str, region: str, name: str, token: str) -> ServerGroup:
        return server_groups.set_server_group_enabled(self._api(account, region), self.ledger, name, True, token)

    @_only_cloud_errors
    def disable_server_group(self, account: str, region: str, name: str, token: str) -> ServerGroup:
        return server_groups.set_server_group_enabled(self._api(account, region), self.ledger, name, False, token)

    @_only_cloud_errors
    def destroy_server_group(self, account: str, region: str, name: str, token: str) -> None:
        server_groups.destroy_server_group(self._api(account, region), self.ledger, name, token)

    @_only_cloud_errors
    def terminate_instances(self, account: str, region: str, instance_ids: tuple[str, ...], token: str) -> None:
        server_groups.terminate_instances(self._api(account, region), self.ledger, instance_ids, token)

    @_only_cloud_errors
    def upsert_load_balancer(self, account: str, region: str, spec: LoadBalancerSpec, token: str) -> LoadBalancer:
        return load_balancers.upsert_load_balancer(self._api(account, region), self.ledger, spec, token)

    @_only_cloud_errors
    def delete_load_balancer(self, account: str, region: str, name: str, token: str) -> None:
        load_balancers.delete_load_balancer(self._api(account, region), self.ledger, name, token)
