"""The custom search attributes every cloud operation carries, and how a cluster gets them registered.

They make operations filterable in Temporal's UI and `temporal workflow list --query`, e.g.
`Application = 'myapp' AND Operation = 'createServerGroup'`. The embedded dev server registers them at start
(`--search-attribute Name=Keyword`, see `durable_runner.dev_server`); a self-hosted cluster through
`ensure_registered` (the operator API, `cloudops worker --register-search-attributes`); Temporal Cloud through
its UI or `tcld`. The starter sets the dimension attributes; the workflow upserts `Outcome` when it finishes
(`durable_runner.outcome`), so `Outcome = 'failed'` lists business failures, which Temporal shows as COMPLETED.
"""

from __future__ import annotations

from collections.abc import Mapping

from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

__all__ = [
    "ACCOUNT",
    "APPLICATION",
    "DIMENSION_ATTRIBUTES",
    "OPERATION",
    "OUTCOME",
    "PROVIDER",
    "SEARCH_ATTRIBUTES",
    "STAGE_TYPE",
    "ensure_registered",
    "missing_attributes",
    "typed_attributes",
]

APPLICATION = SearchAttributeKey.for_keyword("Application")
ACCOUNT = SearchAttributeKey.for_keyword("Account")
OPERATION = SearchAttributeKey.for_keyword("Operation")
PROVIDER = SearchAttributeKey.for_keyword("Provider")
STAGE_TYPE = SearchAttributeKey.for_keyword("StageType")

OUTCOME = SearchAttributeKey.for_keyword("Outcome")
"""Set by the workflow when it finishes (`durable_runner.outcome.OUTCOMES`): `Outcome = 'failed'` lists the
business failures that Temporal itself shows as COMPLETED."""

DIMENSION_ATTRIBUTES: tuple[SearchAttributeKey[str], ...] = (APPLICATION, ACCOUNT, OPERATION, PROVIDER, STAGE_TYPE)
"""Set by the starter, from the request's dimensions."""

SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[str], ...] = (*DIMENSION_ATTRIBUTES, OUTCOME)
"""Every attribute the namespace must have registered (a start or upsert naming a missing one fails or stalls)."""

_BY_DIMENSION: dict[str, SearchAttributeKey[str]] = {
    "application": APPLICATION,
    "account": ACCOUNT,
    "operation": OPERATION,
    "provider": PROVIDER,
    "stage_type": STAGE_TYPE,
}


def typed_attributes(dimensions: Mapping[str, str]) -> TypedSearchAttributes:
    """Search attributes from request dimensions (application, account, operation, provider, stage_type).

    Empty values are left out: Temporal indexes a missing attribute as absent, which reads better than "".
    """
    pairs = [
        SearchAttributePair(key, value)
        for name, key in _BY_DIMENSION.items()
        if (value := dimensions.get(name, "")) != ""
    ]
    return TypedSearchAttributes(pairs)


async def missing_attributes(client: Client) -> list[str]:
    """The names of our attributes the client's namespace does not have (uses the operator API)."""
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    known = set(response.custom_attributes) | set(response.system_attributes)
    return [key.name for key in SEARCH_ATTRIBUTES if key.name not in known]


async def ensure_registered(client: Client) -> list[str]:
    """Register whichever of our attributes the namespace lacks; return the names it added."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest

    missing = await missing_attributes(client)
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes=dict.fromkeys(missing, IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD),
            )
        )
    return missing
