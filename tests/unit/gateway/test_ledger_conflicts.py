"""A write invalidated by a read conflict is endorsed again; any other refusal is not."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.fabric import CommitError
from gateway.ledger import CONFLICT_ATTEMPTS, ConsortiumLedger
from gateway.write_budget import WriteBudget


class _Contract:
    """Stands in for the Fabric contract: fails with the given codes, then answers."""

    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        self.calls = 0

    def submit(self, function: str, **kwargs: Any) -> bytes:
        self.calls += 1
        if self.failures:
            raise CommitError(f"t{self.calls}", 11, self.failures.pop(0), 7)
        return b"ok"


def _ledger(contract: _Contract, budget: WriteBudget | None = None) -> ConsortiumLedger:
    return ConsortiumLedger(contract, contract, "AlderMSP", ("AlderMSP",),  # type: ignore[arg-type]
                            budget)


def test_a_read_conflict_is_endorsed_again_and_each_attempt_spends_the_budget():
    contract = _Contract(["MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT"])
    budget = WriteBudget(10)
    assert _ledger(contract, budget)._submit("RegisterCustomer", args=["k"]) == b"ok"
    assert contract.calls == 3
    assert budget.used() == 3


def test_conflicts_past_the_attempts_and_other_invalid_codes_are_raised():
    contract = _Contract(["MVCC_READ_CONFLICT"] * CONFLICT_ATTEMPTS)
    with pytest.raises(CommitError):
        _ledger(contract)._submit("RegisterCustomer", args=["k"])
    assert contract.calls == CONFLICT_ATTEMPTS
    refused = _Contract(["ENDORSEMENT_POLICY_FAILURE"])
    with pytest.raises(CommitError) as raised:
        _ledger(refused)._submit("RegisterCustomer", args=["k"])
    assert raised.value.code_name == "ENDORSEMENT_POLICY_FAILURE" and refused.calls == 1
