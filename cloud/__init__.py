"""The operation catalogue and the clouds it runs against.

Typed operations parsed from Spinnaker-style untyped stage contexts (validation, naming such as
`app-stack-detail-v003`, plans of provider mutations), the `CloudProvider` seam, and its implementations:
`cloud.sim` (a simulated cloud with fault injection and a mutation journal) and `cloud.aws` (boto3).

May import: nothing of ours.
"""

__all__: list[str] = []  # nothing at the top: import the submodules (cloud.catalogue, cloud.sim, cloud.aws, ...)
