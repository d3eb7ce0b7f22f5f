"""Clouddriver's wire format, written once for every side that speaks it: the two services that serve it
(`legacy_clouddriver` and `gateway`) and the router's LegacyRunner, which is Orca's side of it.

What they share: the request forms of `POST /ops`, `POST /ops/{name}`, `POST /{provider}/ops` and
`POST /{provider}/ops/{name}` (clouddriver_wire.ops), the error tree with its HTTP statuses and Spring Boot's
error body `{timestamp, status, error, message, errors}` (clouddriver_wire.errors), the plan and EXCEPTION result
objects a task carries besides an operation's own (clouddriver_wire.results), and the Flask error handlers
that answer every error with that body, an unexpected one with an error id instead of its internals
(clouddriver_wire.handlers). What is a service's own (its routes beyond /ops, its further errors) stays in it.

May import: nothing of ours (Flask and the standard library only). It is a leaf, so the legacy service can still
deploy alone and the gateway still never imports the legacy service.
"""

from clouddriver_wire.errors import (
    ClouddriverError,
    InvalidRequest,
    ServiceUnavailable,
    TaskNotFound,
    TaskNotRetryable,
    ValidationFailed,
    error_body,
    error_message,
)
from clouddriver_wire.handlers import internal_error_body, register_error_handlers
from clouddriver_wire.ops import OpsRequest, Submit, ops_blueprint, ops_request, parse_body
from clouddriver_wire.results import (
    EXCEPTION_TYPE,
    PLAN_TYPE,
    exception_attributes,
    exception_of,
    exception_summary,
    last_plan,
    own_results,
    plan_object,
)

__all__ = [
    "EXCEPTION_TYPE",
    "PLAN_TYPE",
    "ClouddriverError",
    "InvalidRequest",
    "OpsRequest",
    "ServiceUnavailable",
    "Submit",
    "TaskNotFound",
    "TaskNotRetryable",
    "ValidationFailed",
    "error_body",
    "error_message",
    "exception_attributes",
    "exception_of",
    "exception_summary",
    "internal_error_body",
    "last_plan",
    "ops_blueprint",
    "ops_request",
    "own_results",
    "parse_body",
    "plan_object",
    "register_error_handlers",
]
