"""`GET /credentials` of the legacy service, in the shape of Clouddriver's CredentialsController
(clouddriver-web/src/main/java/com/netflix/spinnaker/clouddriver/controllers/CredentialsController.java: a summary
keeps name, environment, accountType, cloudProvider, requiredGroupMembership, permissions, accountId and adds
type, challengeDestructiveActions, primaryAccount; `?expand=true` and `GET /credentials/{name}` add the
provider's fields; an unknown name is a 404 "Account does not exist (name: X)"), which is where a gateway with
`--upstream` reads its accounts from."""

from __future__ import annotations

from flask.testing import FlaskClient

from cloud.sim import SimCloud
from gateway.upstream_accounts import parse_credentials
from legacy_clouddriver import create_app

FAST = {"HEALTH_POLL_S": 0.01, "PROVIDER_BACKOFF_S": 0.001}


def client(sim: SimCloud) -> FlaskClient:
    return create_app(FAST, provider=sim).test_client()


def test_the_accounts_in_clouddrivers_shape_summary_and_expanded() -> None:
    sim = SimCloud()
    http = client(sim)
    summary = http.get("/credentials")
    assert summary.status_code == 200
    names = {a.name for a in sim.accounts()}
    assert {a["name"] for a in summary.json} == names
    first = summary.json[0]
    assert set(first) == {
        "name", "environment", "accountType", "cloudProvider", "requiredGroupMembership", "permissions", "type",
        "challengeDestructiveActions", "primaryAccount",
    }  # fmt: skip
    assert first["type"] == first["cloudProvider"] and "regions" not in first

    expanded = http.get("/credentials?expand=true").json
    assert parse_credentials(expanded) == list(sim.accounts())  # what the gateway reads: the cloud's accounts
    one = http.get(f"/credentials/{first['name']}")
    assert one.status_code == 200 and one.json["regions"] and one.json["name"] == first["name"]

    missing = http.get("/credentials/nope")
    assert missing.status_code == 404 and missing.json["message"] == "Account does not exist (name: nope)"
