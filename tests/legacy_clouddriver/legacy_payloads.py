"""Operation maps for the legacy service's tests (shapes from the reference note, section 4), and small helpers."""

from __future__ import annotations

import time
from typing import Any

from flask.testing import FlaskClient


def aws_create(
    app: str = "myapp", regions: tuple[str, ...] = ("us-east-1",), desired: int = 2, **extra: Any
) -> dict[str, Any]:
    return {
        "cloudProvider": "aws",
        "application": app,
        "stack": "main",
        "freeFormDetails": "",
        "credentials": "prod",
        "availabilityZones": {r: [f"{r}a"] for r in regions},
        "capacity": {"min": 1, "max": 4, "desired": desired},
        "amiName": f"{app}-1.2.0-ami",
        "instanceType": "m5.large",
        "subnetType": "internal",
        "securityGroups": [app],
        "loadBalancers": [],
        "iamRole": f"{app}InstanceProfile",
        "keyPair": "nf-prod-keypair",
        "strategy": "redblack",
        "tags": {},
        **extra,
    }


def titus_create(app: str = "helloworld", regions: tuple[str, ...] = ("us-east-1",), **extra: Any) -> dict[str, Any]:
    location: dict[str, Any] = {"region": regions[0]} if len(regions) == 1 else {"regions": list(regions)}
    return {
        "cloudProvider": "titus",
        "credentials": "titustest",
        **location,
        "application": app,
        "stack": "main",
        "freeFormDetails": "",
        "imageId": f"titus/{app}:latest",
        "capacity": {"min": 1, "max": 3, "desired": 1},
        "resources": {"cpu": 2, "memory": 4096, "disk": 10000, "networkMbps": 128, "gpu": 0, "allocateIpAddress": True},
        "capacityGroup": app,
        "iamProfile": f"{app}InstanceProfile",
        "inService": True,
        "securityGroups": [],
        "env": {},
        "labels": {},
        **extra,
    }


def resize(name: str, desired: int, provider: str = "aws", account: str = "prod", **extra: Any) -> dict[str, Any]:
    return {
        "cloudProvider": provider,
        "credentials": account,
        "region": "us-east-1",
        "serverGroupName": name,
        "capacity": {"min": 1, "desired": desired, "max": max(desired, 6)},
        **extra,
    }


def wait_task(client: FlaskClient, task_id: str, timeout: float = 15.0) -> dict[str, Any]:
    """Poll the task until it is completed; return its JSON."""
    deadline = time.monotonic() + timeout
    while True:
        task = client.get(f"/task/{task_id}").get_json()
        if task["status"]["completed"] or time.monotonic() > deadline:
            return dict(task)
        time.sleep(0.02)


def statuses(task: dict[str, Any]) -> list[str]:
    return [h["status"] for h in task["history"]]
