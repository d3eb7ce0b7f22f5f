"""The durable path: cloud operations as Temporal workflows and activities.

One `UntypedCloudOperationRunner` workflow resolves the untyped stage context into a typed operation and runs its
plan through idempotent activities, with retries as RetryPolicy, compensation as ordinary code, and progress as a
query and a long-poll update. Modules: `contract` (the JSON contract, docs/durable-contract.md), `workflows`,
`operations` (one class per operation family), `steps`, `progress`, `activities`, `worker`, `client` (connection
settings), `search_attributes`, `errors`, `loop`.

This package module imports nothing on purpose: the workflow sandbox re-imports the package of the workflow module
for every run, and a submodule imported from here would become a sandbox-private copy whose classes differ from
the passed-through ones the activities and steps use.

May import: `cloud`. Never `router` or `flags`: this package deploys alone.
"""

__all__: list[str] = []
