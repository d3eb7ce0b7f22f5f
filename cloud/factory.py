"""Open a CloudProvider from one string, as the command line and configuration files name a cloud.

http://127.0.0.1:7010        the sim cloud over HTTP (`cloudops sim-cloud`)
sim                          an in-process sim cloud with the default world (tests, one-process tools)
sim:/path/to/world.yaml      an in-process sim cloud with that world
aws                          AWS through boto3, accounts from CLOUDOPS_AWS_ACCOUNTS (a JSON or YAML file)
aws+http://127.0.0.1:5000    the same against an AWS-compatible endpoint (moto's server mode)
"""

from __future__ import annotations

from cloud.provider import CloudProvider

__all__ = ["open_provider"]


def open_provider(spec: str) -> CloudProvider:
    """The provider `spec` names; raises ValueError saying which forms are accepted."""
    if spec.startswith(("http://", "https://")):
        from cloud.sim.client import SimCloudClient

        return SimCloudClient(spec)
    if spec == "sim" or spec.startswith("sim:"):
        from cloud.sim import SimCloud, default_world, load_world

        world_path = spec.partition(":")[2]
        return SimCloud(world=load_world(world_path) if world_path else default_world())
    if spec == "aws" or spec.startswith("aws+"):
        from cloud.aws import AwsProvider

        endpoint = spec.partition("+")[2] or None
        return AwsProvider.from_environment(endpoint_url=endpoint)
    raise ValueError(
        f"unknown cloud {spec!r}: use a sim cloud URL (http://host:port), 'sim', 'sim:<world file>', "
        "'aws' or 'aws+<endpoint url>'"
    )
