"""A simulated cloud with AWS-like semantics, seeded fault injection and a journal of applied mutations.

`SimCloud` runs in process; `cloud.sim.server.create_app(sim)` serves it over HTTP (`cloudops sim-cloud`) and
`cloud.sim.client.SimCloudClient` calls it back as a `CloudProvider`. Worlds (accounts, regions, limits) come from
`default_world()` or a file (`load_world`, format in `cloud.sim.world`).

May import: `cloud` only (flask and httpx in the server and client modules, which this module does not import).
"""

from __future__ import annotations

from cloud.sim.faults import FaultConfig, FaultKind
from cloud.sim.journal import JournalEntry, JournalSummary, summarise_journal
from cloud.sim.simulator import SimCloud
from cloud.sim.world import InvalidWorld, World, default_world, load_world

__all__ = [
    "FaultConfig",
    "FaultKind",
    "InvalidWorld",
    "JournalEntry",
    "JournalSummary",
    "SimCloud",
    "World",
    "default_world",
    "load_world",
    "summarise_journal",
]
