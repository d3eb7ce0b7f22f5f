"""What the sim cloud's journal says about one path's run: duplicated, lost and orphaned mutations. Pure.

Definitions (docs/benchmarks.md repeats them):
- duplicated mutation: `summarise_journal`'s duplicates (the same change applied twice in a row to one target
  under different tokens: a retry with a fresh token after a lost response), plus any token applied twice;
- lost mutation: a mutation in the plan of an operation that reported success, with no journal entry making that
  change (kind, account, region, target, parameters); plus a server group that an operation reported created
  that is absent from the cloud at the end although the journal holds no destroy of it (it vanished);
- orphaned server group: created in the cloud (journal) by an operation that reported failure, so no pipeline
  knows it exists: it runs, and costs, until someone finds it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench._workload import OpRecord
from cloud.plan import MutationKind
from cloud.sim.journal import JournalEntry, summarise_journal

__all__ = ["Audit", "audit"]

_Change = tuple[str, str, str, str, str]


@dataclass(frozen=True, slots=True)
class Audit:
    duplicated_mutations: int
    lost_mutations: int
    lost_server_groups: int
    orphaned_server_groups: int
    journal_total: int
    journal_by_kind: Mapping[str, int]
    examples: Mapping[str, list[str]]

    def to_json(self) -> dict[str, Any]:
        return {
            "duplicated_mutations": self.duplicated_mutations,
            "lost_mutations": self.lost_mutations + self.lost_server_groups,
            "lost_mutations_detail": {
                "reported_but_not_in_journal": self.lost_mutations,
                "created_but_missing_at_end": self.lost_server_groups,
            },
            "orphaned_server_groups": self.orphaned_server_groups,
            "journal": {"total": self.journal_total, "by_kind": dict(self.journal_by_kind)},
            "examples": {k: v for k, v in self.examples.items() if v},
        }


def _change(kind: str, account: str, region: str, target: str, params: Mapping[str, Any]) -> _Change:
    return (kind, account, region, target, json.dumps(params, sort_keys=True))


def _reported_mutations(record: OpRecord) -> Iterable[_Change]:
    for m in (record.plan or {}).get("mutations") or ():
        yield _change(str(m["kind"]), str(m["account"]), str(m["region"]), str(m["target"]), m.get("params") or {})


def _created_groups(records: Sequence[OpRecord]) -> set[tuple[str, str, str]]:
    created: set[tuple[str, str, str]] = set()
    for r in records:
        if r.succeeded and r.request.operation == "createServerGroup":
            for change in _reported_mutations(r):
                if change[0] == MutationKind.CREATE_SERVER_GROUP.value:
                    created.add((change[1], change[2], change[3]))
    return created


def audit(
    records: Sequence[OpRecord], journal: Sequence[JournalEntry], final_groups: set[tuple[str, str, str]]
) -> Audit:
    """Audit one run: `final_groups` holds (account, region, name) of every server group in the cloud at the end."""
    summary = summarise_journal(journal)
    applied = Counter(e.change() for e in journal)
    lost: list[str] = []
    for r in records:
        if r.succeeded:
            lost += [f"{r.request.operation_id}: {c[0]} {c[3]}" for c in _reported_mutations(r) if not applied[c]]
    created = _created_groups(records)
    destroyed = {(e.account, e.region, e.target) for e in journal if e.kind is MutationKind.DESTROY_SERVER_GROUP}
    missing = sorted("/".join(g) for g in created - destroyed - final_groups)
    journal_creates = {(e.account, e.region, e.target) for e in journal if e.kind is MutationKind.CREATE_SERVER_GROUP}
    orphans = sorted("/".join(g) for g in journal_creates - created)
    duplicates = [f"{e.kind.value} {e.target} (seq {e.seq})" for e in summary.duplicates]
    return Audit(
        duplicated_mutations=len(summary.duplicates) + len(summary.repeated_tokens),
        lost_mutations=len(lost),
        lost_server_groups=len(missing),
        orphaned_server_groups=len(orphans),
        journal_total=summary.total,
        journal_by_kind=summary.by_kind,
        examples={"duplicated": duplicates[:5], "lost": (lost + missing)[:5], "orphaned": orphans[:5]},
    )
