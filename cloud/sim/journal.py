"""The sim cloud's journal: one entry per mutation it applied, so a test can prove none was duplicated or lost.

A call answered from the idempotency ledger (a retry under the same token) is not journaled again: the journal
holds exactly what changed the cloud, once. `summarise_journal` counts entries per kind and finds duplicates:
the same change (kind, account, region, target, params) applied twice in a row to one target under different
tokens, which is what a caller that retries with a fresh token after a lost response causes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cloud.model import JSON
from cloud.plan import MutationKind

__all__ = ["JournalEntry", "JournalSummary", "summarise_journal"]


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One applied mutation: its sequence number (from 1), time (the sim's clock), call and token.

    `target` is the server group or load balancer name; for terminateInstances the owning server group(s),
    comma-separated. `params` holds the call's arguments as in `cloud.plan.Mutation.params`.
    """

    seq: int
    at: float
    kind: MutationKind
    account: str
    region: str
    target: str
    token: str
    params: Mapping[str, JSON] = field(default_factory=dict)

    def change(self) -> tuple[str, str, str, str, str]:
        """What this entry changed, without when and under which token: equal for a duplicated change."""
        return (self.kind.value, self.account, self.region, self.target, json.dumps(self.params, sort_keys=True))

    def to_json(self) -> dict[str, JSON]:
        return {
            "seq": self.seq,
            "at": self.at,
            "kind": self.kind.value,
            "account": self.account,
            "region": self.region,
            "target": self.target,
            "token": self.token,
            "params": dict(self.params),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JournalEntry:
        return cls(
            seq=int(data["seq"]),
            at=float(data["at"]),
            kind=MutationKind(data["kind"]),
            account=data["account"],
            region=data["region"],
            target=data["target"],
            token=data["token"],
            params=dict(data.get("params", {})),
        )


@dataclass(frozen=True, slots=True)
class JournalSummary:
    """Counts per mutation kind, the duplicated changes, and tokens that were applied more than once.

    `duplicates` holds the second (and later) application of each duplicated change; `repeated_tokens` should
    always be empty for a single sim cloud (a token is applied at most once) and is there to prove it.
    """

    total: int
    by_kind: Mapping[str, int]
    duplicates: tuple[JournalEntry, ...]
    repeated_tokens: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not self.duplicates and not self.repeated_tokens

    def to_json(self) -> dict[str, JSON]:
        return {
            "total": self.total,
            "byKind": dict(self.by_kind),
            "duplicates": [e.to_json() for e in self.duplicates],
            "repeatedTokens": list(self.repeated_tokens),
        }


def summarise_journal(entries: Iterable[JournalEntry]) -> JournalSummary:
    """Summarise journal entries (in sequence order). Pure."""
    ordered = sorted(entries, key=lambda e: e.seq)
    last_by_target: dict[tuple[str, str, str], JournalEntry] = {}
    duplicates: list[JournalEntry] = []
    for entry in ordered:
        key = (entry.account, entry.region, entry.target)
        previous = last_by_target.get(key)
        if previous is not None and previous.change() == entry.change() and previous.token != entry.token:
            duplicates.append(entry)
        last_by_target[key] = entry
    tokens = Counter(e.token for e in ordered)
    kinds = Counter(e.kind.value for e in ordered)
    return JournalSummary(
        total=len(ordered),
        by_kind={kind.value: kinds[kind.value] for kind in MutationKind if kinds[kind.value]},
        duplicates=tuple(duplicates),
        repeated_tokens=tuple(sorted(t for t, n in tokens.items() if n > 1)),
    )
