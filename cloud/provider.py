"""The seam between cloud operations and a cloud: `CloudReader` for reads, `CloudProvider` for reads and writes.

Contract shared by every implementation (`cloud.sim`, `cloud.aws`, the sim cloud's HTTP client):
- Calls are synchronous and thread-safe; errors are `cloud.errors.CloudError` subclasses, never anything else.
- Every mutating call takes an idempotency `token` (as AWS's ClientToken). A repeated call with the same token
  and the same arguments returns the first call's result and applies nothing new; the same token with other
  arguments raises `IdempotencyConflict`. Callers that want retries to be safe pass the same token each time.
- Reads never mutate; a shadow (dry-run) path only ever holds a `CloudReader`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from cloud.model import Account, Capacity, Instance, LoadBalancer, LoadBalancerSpec, ServerGroup, ServerGroupSpec

__all__ = ["CloudProvider", "CloudReader"]


@runtime_checkable
class CloudReader(Protocol):
    """Read-only view of a cloud. A missing account or region raises UnknownAccount / UnknownRegion."""

    def accounts(self) -> list[Account]: ...

    def list_server_groups(self, account: str, region: str, cluster: str | None = None) -> list[ServerGroup]:
        """Server groups in a region, optionally only those of one cluster (`app-stack-detail`)."""
        ...

    def describe_server_group(self, account: str, region: str, name: str) -> ServerGroup | None:
        """The server group, or None when it does not exist (a read never raises NotFound for the target)."""
        ...

    def describe_instances(self, account: str, region: str, server_group: str) -> list[Instance]:
        """The instances of a server group; NotFound when the group does not exist."""
        ...

    def describe_load_balancer(self, account: str, region: str, name: str) -> LoadBalancer | None: ...


@runtime_checkable
class CloudProvider(CloudReader, Protocol):
    """A cloud that can also be changed. Each mutation is idempotent under its token (see module docstring)."""

    def create_server_group(self, account: str, region: str, spec: ServerGroupSpec, token: str) -> ServerGroup: ...

    def resize_server_group(
        self, account: str, region: str, name: str, capacity: Capacity, token: str
    ) -> ServerGroup: ...

    def enable_server_group(self, account: str, region: str, name: str, token: str) -> ServerGroup: ...

    def disable_server_group(self, account: str, region: str, name: str, token: str) -> ServerGroup: ...

    def destroy_server_group(self, account: str, region: str, name: str, token: str) -> None: ...

    def terminate_instances(self, account: str, region: str, instance_ids: tuple[str, ...], token: str) -> None: ...

    def upsert_load_balancer(self, account: str, region: str, spec: LoadBalancerSpec, token: str) -> LoadBalancer: ...

    def delete_load_balancer(self, account: str, region: str, name: str, token: str) -> None: ...
