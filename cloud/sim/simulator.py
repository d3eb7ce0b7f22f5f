"""`SimCloud`: an in-process, thread-safe `CloudProvider` with seeded faults, hard-down switches and a journal.

Each call goes through the same steps, in the order a real cloud API would show them:
1. its fault decision is drawn (`cloud.sim.faults.decide`) and its latency slept, outside the lock;
2. a hard-down switch covering its account or region fails it with CloudUnavailable;
3. an injected throttle, 5xx or timeout fails it before anything is applied;
4. under the lock: token check, account/region check, idempotency ledger, the change (`cloud.sim.state`),
   ledger record and journal entry, all at once;
5. an injected lost response fails it with CloudTimeout after it was applied (or rejected).
The clock and the sleep function are injectable, so tests need no sleeping for health or latency.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TypeVar, cast

from cloud.errors import CloudRejection, CloudServerError, CloudTimeout, CloudUnavailable, Throttled
from cloud.model import JSON, Account, Capacity, Instance, LoadBalancer, LoadBalancerSpec, ServerGroup, ServerGroupSpec
from cloud.plan import MutationKind
from cloud.sim.faults import CallCounter, FaultConfig, FaultKind, call_identity, decide
from cloud.sim.journal import JournalEntry
from cloud.sim.ledger import IdempotencyLedger, check_token
from cloud.sim.state import CloudState
from cloud.sim.world import World, default_world

__all__ = ["SimCloud"]

T = TypeVar("T")


class SimCloud:
    """A simulated cloud with AWS-like semantics; implements `cloud.provider.CloudProvider`.

    `clock` gives the time used for health (an instance is Healthy `health_delay_s` after launch) and journal
    timestamps; `sleep` is how injected latency is spent. Instance ids and DNS names derive from `faults.seed`.
    """

    def __init__(
        self,
        world: World | None = None,
        faults: FaultConfig | None = None,
        health_delay_s: float = 1.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.world = world or default_world()
        self.health_delay_s = health_delay_s
        self._faults = faults or FaultConfig()
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._state = CloudState(self.world, self._faults.seed, health_delay_s)
        self._ledger = IdempotencyLedger()
        self._journal: list[JournalEntry] = []
        self._counter = CallCounter()
        self._switch_lock = threading.Lock()
        self._down: set[tuple[str | None, str | None]] = set()
        self._injected: Counter[str] = Counter()

    # -- reads ---------------------------------------------------------------------------------------------------

    def accounts(self) -> list[Account]:
        return self._call("accounts", {}, None, None, "", lambda now: list(self.world.accounts))

    def list_server_groups(self, account: str, region: str, cluster: str | None = None) -> list[ServerGroup]:
        args = {"account": account, "region": region, "cluster": cluster}
        return self._call(
            "listServerGroups",
            args,
            account,
            region,
            cluster or "",
            lambda now: self._state.list_server_groups(account, region, cluster, now),
        )

    def describe_server_group(self, account: str, region: str, name: str) -> ServerGroup | None:
        args = {"account": account, "region": region, "name": name}
        return self._call(
            "describeServerGroup",
            args,
            account,
            region,
            name,
            lambda now: self._state.describe_server_group(account, region, name, now),
        )

    def describe_instances(self, account: str, region: str, server_group: str) -> list[Instance]:
        args = {"account": account, "region": region, "serverGroup": server_group}
        return self._call(
            "describeInstances",
            args,
            account,
            region,
            server_group,
            lambda now: self._state.describe_instances(account, region, server_group, now),
        )

    def describe_load_balancer(self, account: str, region: str, name: str) -> LoadBalancer | None:
        args = {"account": account, "region": region, "name": name}
        return self._call(
            "describeLoadBalancer",
            args,
            account,
            region,
            name,
            lambda now: self._state.describe_load_balancer(account, region, name),
        )

    def load_balancer_instances(self, account: str, region: str, name: str) -> list[str]:
        """Ids of the instances registered with a load balancer (enabled groups only); NotFound if it is missing."""
        args = {"account": account, "region": region, "name": name}
        return self._call(
            "loadBalancerInstances",
            args,
            account,
            region,
            name,
            lambda now: self._state.load_balancer_instances(account, region, name),
        )

    # -- mutations -----------------------------------------------------------------------------------------------

    def create_server_group(self, account: str, region: str, spec: ServerGroupSpec, token: str) -> ServerGroup:
        def apply(now: float) -> tuple[ServerGroup, str]:
            return self._state.create_server_group(account, region, spec, now, created_by=token), spec.name

        params = {"spec": spec.to_json()}
        return self._mutate(MutationKind.CREATE_SERVER_GROUP, account, region, spec.name, params, token, apply)

    def resize_server_group(self, account: str, region: str, name: str, capacity: Capacity, token: str) -> ServerGroup:
        def apply(now: float) -> tuple[ServerGroup, str]:
            return self._state.resize_server_group(account, region, name, capacity, now), name

        params = {"capacity": capacity.to_json()}
        return self._mutate(MutationKind.RESIZE_SERVER_GROUP, account, region, name, params, token, apply)

    def enable_server_group(self, account: str, region: str, name: str, token: str) -> ServerGroup:
        def apply(now: float) -> tuple[ServerGroup, str]:
            return self._state.set_disabled(account, region, name, False, now), name

        return self._mutate(MutationKind.ENABLE_SERVER_GROUP, account, region, name, {}, token, apply)

    def disable_server_group(self, account: str, region: str, name: str, token: str) -> ServerGroup:
        def apply(now: float) -> tuple[ServerGroup, str]:
            return self._state.set_disabled(account, region, name, True, now), name

        return self._mutate(MutationKind.DISABLE_SERVER_GROUP, account, region, name, {}, token, apply)

    def destroy_server_group(self, account: str, region: str, name: str, token: str) -> None:
        def apply(now: float) -> tuple[None, str]:
            self._state.destroy_server_group(account, region, name)
            return None, name

        self._mutate(MutationKind.DESTROY_SERVER_GROUP, account, region, name, {}, token, apply)

    def terminate_instances(self, account: str, region: str, instance_ids: tuple[str, ...], token: str) -> None:
        def apply(now: float) -> tuple[None, str]:
            return None, self._state.terminate_instances(account, region, tuple(instance_ids), now)

        params = {"instanceIds": list(instance_ids)}
        self._mutate(MutationKind.TERMINATE_INSTANCES, account, region, "", params, token, apply)

    def upsert_load_balancer(self, account: str, region: str, spec: LoadBalancerSpec, token: str) -> LoadBalancer:
        def apply(now: float) -> tuple[LoadBalancer, str]:
            return self._state.upsert_load_balancer(account, region, spec), spec.name

        params = {"spec": spec.to_json()}
        return self._mutate(MutationKind.UPSERT_LOAD_BALANCER, account, region, spec.name, params, token, apply)

    def delete_load_balancer(self, account: str, region: str, name: str, token: str) -> None:
        def apply(now: float) -> tuple[None, str]:
            self._state.delete_load_balancer(account, region, name)
            return None, name

        self._mutate(MutationKind.DELETE_LOAD_BALANCER, account, region, name, {}, token, apply)

    # -- journal, switches, faults -------------------------------------------------------------------------------

    def journal(self, since: int = 0) -> list[JournalEntry]:
        """Every applied mutation with `seq > since`, in order."""
        with self._lock:
            return self._journal[since:] if since >= 0 else list(self._journal)

    def set_hard_down(self, account: str | None = None, region: str | None = None, down: bool = True) -> None:
        """Make every call in an account, a region (of every account), or both, fail with CloudUnavailable.

        With neither, the whole cloud is down (`accounts()` included). `down=False` lifts that same switch.
        """
        with self._switch_lock:
            (self._down.add if down else self._down.discard)((account, region))

    def hard_down(self) -> list[tuple[str | None, str | None]]:
        """The (account, region) switches that are on; None stands for every account or every region."""
        with self._switch_lock:
            return sorted(self._down, key=lambda s: (s[0] or "", s[1] or ""))

    @property
    def faults(self) -> FaultConfig:
        return self._faults

    def set_faults(self, faults: FaultConfig) -> None:
        """Replace the fault model. The seed of instance ids and DNS names stays the one the cloud started with."""
        self._faults = faults

    def set_fault_rate(self, rate: float) -> None:
        self._faults = replace(self._faults, rate=rate)

    def injected_faults(self) -> dict[str, int]:
        """How many failures of each FaultKind (and `hard_down`) this cloud injected so far."""
        with self._switch_lock:
            return dict(self._injected)

    # -- the call pipeline ---------------------------------------------------------------------------------------

    def _mutate(
        self,
        kind: MutationKind,
        account: str,
        region: str,
        target: str,
        params: Mapping[str, JSON],
        token: str,
        apply: Callable[[float], tuple[T, str]],
    ) -> T:
        request: dict[str, JSON] = {"account": account, "region": region, "target": target, "params": dict(params)}
        fingerprint = call_identity(kind.value, request)

        def once(now: float) -> T:
            check_token(token, account, region, target)
            self.world.check(account, region)
            found = self._ledger.lookup(token, fingerprint, account=account, region=region, target=target)
            if found is not None:
                return cast(T, found.result)
            result, journal_target = apply(now)
            self._ledger.record(token, fingerprint, result)
            entry = JournalEntry(len(self._journal) + 1, now, kind, account, region, journal_target, token, params)
            self._journal.append(entry)
            return result

        return self._call(kind.value, request, account, region, target, once)

    def _call(
        self,
        method: str,
        args: Mapping[str, JSON],
        account: str | None,
        region: str | None,
        target: str,
        body: Callable[[float], T],
    ) -> T:
        identity = call_identity(method, args)
        decision = decide(self._faults, identity, self._counter.next(identity))
        if decision.latency_ms > 0:
            self._sleep(decision.latency_ms / 1000.0)
        context = {"account": account or "", "region": region or "", "target": target}
        self._check_up(method, account, region, context)
        kind = decision.kind
        if kind is not None and kind is not FaultKind.LOST_RESPONSE:
            raise self._injected_error(kind, method, context)
        try:
            with self._lock:
                result = body(self._clock())
        except CloudRejection:
            if kind is FaultKind.LOST_RESPONSE:
                raise self._injected_error(kind, method, context) from None
            raise
        if kind is FaultKind.LOST_RESPONSE:
            raise self._injected_error(kind, method, context)
        return result

    def _check_up(self, method: str, account: str | None, region: str | None, context: dict[str, str]) -> None:
        with self._switch_lock:
            for down_account, down_region in self._down:
                if down_account in (None, account) and down_region in (None, region):
                    self._injected["hard_down"] += 1
                    scope = "/".join(s for s in (down_account, down_region) if s) or "the whole cloud"
                    raise CloudUnavailable(f"{method}: {scope} is down (hard-down switch)", **context)

    def _injected_error(self, kind: FaultKind, method: str, context: dict[str, str]) -> Exception:
        with self._switch_lock:
            self._injected[kind.value] += 1
        if kind is FaultKind.THROTTLE:
            return Throttled(f"{method}: rate exceeded (injected fault)", **context)
        if kind is FaultKind.SERVER_ERROR:
            return CloudServerError(f"{method}: service unavailable (injected fault)", **context)
        # Timeout and lost response read the same, as they do for a real client.
        return CloudTimeout(f"{method}: request timed out; it may or may not have been applied", **context)
