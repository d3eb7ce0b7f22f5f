"""The token ledger the aws provider claims before each mutation."""

from __future__ import annotations

import threading

import pytest

from cloud.aws.ledger import MemoryTokenLedger, TokenState, claim_token, request_fingerprint
from cloud.errors import IdempotencyConflict


def test_claim_then_finish() -> None:
    ledger = MemoryTokenLedger()
    assert ledger.claim("t1", "fp") is None
    prior = ledger.claim("t1", "fp")
    assert prior is not None and prior.state is TokenState.STARTED
    ledger.finish("t1")
    done = ledger.claim("t1", "fp")
    assert done is not None and done.state is TokenState.DONE
    ledger.finish("never-claimed")  # nothing to finish: no error, nothing recorded
    assert len(ledger) == 1


def test_a_token_reused_for_another_request_conflicts() -> None:
    ledger = MemoryTokenLedger()
    claim_token(ledger, "t1", "fp-a", account="prod", region="us-east-1", target="app-v000")
    with pytest.raises(IdempotencyConflict) as raised:
        claim_token(ledger, "t1", "fp-b", account="prod", region="us-east-1", target="app-v001")
    assert (raised.value.account, raised.value.target) == ("prod", "app-v001")
    record = ledger.claim("t1", "fp-a")
    assert record is not None and record.fingerprint == "fp-a"  # the conflict did not overwrite it


def test_oldest_tokens_are_forgotten_first() -> None:
    ledger = MemoryTokenLedger(capacity=2)
    ledger.claim("a", "fp")
    ledger.claim("b", "fp")
    ledger.claim("a", "fp")  # touching "a" makes "b" the oldest
    ledger.claim("c", "fp")
    assert len(ledger) == 2
    assert ledger.claim("a", "fp") is not None
    assert ledger.claim("b", "fp") is None
    with pytest.raises(ValueError, match="at least 1"):
        MemoryTokenLedger(capacity=0)


def test_only_one_of_many_concurrent_claims_is_first() -> None:
    ledger = MemoryTokenLedger()
    firsts: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        firsts.append(ledger.claim("same", "fp") is None)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(firsts) == [False] * 7 + [True]


def test_fingerprint_is_stable_and_sensitive() -> None:
    one = request_fingerprint("resize", "prod", "us-east-1", {"a": 1, "b": [1, 2]})
    assert one == request_fingerprint("resize", "prod", "us-east-1", {"b": [1, 2], "a": 1})
    assert one != request_fingerprint("resize", "prod", "us-west-2", {"a": 1, "b": [1, 2]})
    assert one != request_fingerprint("resize", "prod", "us-east-1", {"a": 2, "b": [1, 2]})
    assert len(one) == 32
