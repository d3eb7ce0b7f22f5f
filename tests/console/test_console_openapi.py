"""The OpenAPI document against the API itself: schemathesis feeds every documented operation generated input
(valid and invalid), in process through the WSGI app, and checks that nothing answers 500, that every status is
documented, and that every body matches its schema. A bounded number of examples keeps it fast."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from console_support import TOKENS, bearer, console_config, database
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from console import create_app
from console.api.openapi import document
from flags import STAGE_KEY, SqlFlagStore


@pytest.fixture(scope="module")
def console_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    url = database(tmp_path_factory.mktemp("openapi"))
    store = SqlFlagStore(url)
    # Something to find: properties with history, so ids like p1 and versions like 1 hit real rows sometimes.
    store.set_property(STAGE_KEY, "shadow", {"application": "api"}, actor="seed", reason="seed")
    store.set_property(STAGE_KEY, "canary", {"application": "api"}, actor="seed", reason="seed", percent=5)
    store.close()
    app = create_app(console_config(url), environ={})
    yield app
    app.extensions["console"].close()


@pytest.fixture(scope="module")
def api_schema(console_app: Flask) -> Any:
    return schemathesis.openapi.from_wsgi("/api/openapi.json", console_app)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
OPERATIONS = [(method.upper(), path) for path, item in document()["paths"].items() for method in item]
# Per operation: valid input (it must be accepted or refused as documented) and invalid input (refused, no 500).
EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 6}


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
@pytest.mark.parametrize("mode", list(EXAMPLES))
def test_every_operation_answers_as_documented(api_schema: Any, method: str, path: str, mode: GenerationMode) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=bearer("editor"), checks=CHECKS)

    check()


def test_the_document_is_public_and_describes_every_api_route(console_app: Flask) -> None:
    client = console_app.test_client()
    document = client.get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    documented = {
        path.replace("{propertyId}", "<property_id>").replace("{rolloutId}", "<rollout_id>")
        for path in document["paths"]
    }
    routes = {rule.rule for rule in console_app.url_map.iter_rules() if rule.rule.startswith("/api/")}
    routes = {r for r in routes if "<action>" not in r} | {
        f"/api/rollouts/<rollout_id>/{action}" for action in ("pause", "resume", "abort", "tick")
    }
    assert documented == routes - {"/api/openapi.json"}
    assert TOKENS["editor"] not in client.get("/api/openapi.json").text
