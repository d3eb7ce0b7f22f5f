"""The durable path: cloud operations as Temporal workflows and activities.

One `UntypedCloudOperationRunner` workflow resolves the untyped stage context into a typed operation and runs its
plan through idempotent activities, with retries as RetryPolicy, compensation as ordinary code, and progress as a
query and a long-poll update.

May import: `cloud`. Never `router` or `flags`: this package deploys alone.
"""
