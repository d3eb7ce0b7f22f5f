"""The `aws` CloudProvider: server groups as Auto Scaling groups with launch templates, classic ELBs, over boto3.

`AwsProvider(accounts, endpoint_url=..., session_factory=...)` acts in the given accounts; `AwsProvider.
from_environment()` reads them from the file CLOUDOPS_AWS_ACCOUNTS names and assumes each account's `roleArn`
with STS. `endpoint_url` points every client at an AWS-compatible endpoint (moto's server mode in tests).

Idempotency. The provider contract asks that a mutation repeated with the same token applies nothing new.
EC2's CreateLaunchTemplate takes a ClientToken; Auto Scaling and classic ELB calls do not, so:
- a create tags the group and its launch template with `cloudops:token` and a fingerprint of the request. A
  retry finds its own group by those tags, in any process, and returns it; a group with another token is
  `AlreadyExists`, the same token with another spec `IdempotencyConflict`.
- every mutation also claims its token in a ledger (`cloud.aws.ledger`) before acting. A finished token is
  answered from current state without acting again; for destroy, delete and terminate, "already gone" under a
  token seen before (even one whose first attempt timed out) counts as done, while under a new token it is
  `NotFound`. Resize, enable, disable and upsert converge on a target state, so repeating them is harmless.

Limit: the default ledger, `MemoryTokenLedger`, lives in one process and forgets its oldest tokens after
10,000. A retry that reaches another worker, or this one after a restart, does not see it: a repeated destroy,
delete or terminate whose first attempt succeeded then fails with NotFound instead of succeeding, and a token
reused with other arguments for those calls goes unnoticed. A production deployment should pass a shared,
durable `ledger` (any `TokenLedger`: for example a DynamoDB table written with a conditional put on the token,
or a table in the SQL database cloudops already runs), keeping tokens longer than the longest retry window.

May import: `cloud.model`, `cloud.errors`, `cloud.provider` (nothing else of ours); boto3, botocore, PyYAML.
"""

from __future__ import annotations

from cloud.aws.accounts import ACCOUNTS_ENV, AwsAccount, load_accounts
from cloud.aws.errors import translate_error
from cloud.aws.ledger import MemoryTokenLedger, TokenLedger
from cloud.aws.provider import AwsProvider, default_client_config
from cloud.aws.sessions import AssumeRoleSessions

__all__ = [
    "ACCOUNTS_ENV",
    "AssumeRoleSessions",
    "AwsAccount",
    "AwsProvider",
    "MemoryTokenLedger",
    "TokenLedger",
    "default_client_config",
    "load_accounts",
    "translate_error",
]
