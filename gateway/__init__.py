"""A Clouddriver-compatible gateway in front of the RoutingRunner: an orchestrator that speaks Clouddriver's
HTTP contract (Orca) migrates by pointing at a new URL, with no code change.

`POST /{provider}/ops` validates as Clouddriver does and answers a task id at once; each operation of the list is
routed by the flags on its own dimensions and run, in order, by a background driver through
`RoutingRunner.start` / `poll`; `GET /task/{id}` shows Clouddriver's task JSON built from the legacy task or the
workflow behind each operation. Gateway tasks live in the router's database, so a restarted gateway answers for
every task it ever issued and drives the unfinished ones on. docs/gateway.md describes the contract.

With an upstream Clouddriver behind it (`GatewaySettings.upstream`, `cloudops gateway --upstream`), the gateway
takes only the lists the durable path is needed for (gateway.admission) and passes everything else through to it
unchanged and streamed (gateway.upstream, gateway.proxy_api); its accounts are then the upstream's
`GET /credentials` (gateway.upstream_accounts), and its verdicts are rows and counters (gateway.admission_log).

Public: `build_gateway(RouterConfig, GatewaySettings)`, `Gateway`, `create_app(gateway)`, `GatewaySettings`,
`load_gateway_settings`, `operation_id_for`, and the header and context-key names in `gateway.model`.

May import: `router`, `flags`, `cloud` (the catalogue and types), `durable_runner`'s contract, `clouddriver_wire`
(the wire format it shares with the legacy service). The legacy path only over HTTP: nothing of
`legacy_clouddriver` (it is deleted when the migration ends; the gateway stays).
"""

from gateway.app import create_app
from gateway.model import EXECUTION_ID_HEADER, PRIOR_RESULTS_KEY, STAGE_TYPE_HEADER
from gateway.service import Gateway, build_gateway
from gateway.settings import GatewaySettings, load_gateway_settings
from gateway.submission import operation_id_for

__all__ = [
    "EXECUTION_ID_HEADER",
    "PRIOR_RESULTS_KEY",
    "STAGE_TYPE_HEADER",
    "Gateway",
    "GatewaySettings",
    "build_gateway",
    "create_app",
    "load_gateway_settings",
    "operation_id_for",
]
