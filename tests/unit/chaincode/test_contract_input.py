"""Bad input to the contract on the memory ledger: each is refused with its typed error
(never a crash), and a refused call writes nothing (``Chain.refused`` compares the whole
ledger before and after).

The same refusals through the gateways' HTTP API: ``tests/integration/test_api_fuzz.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chaincode.errors import (
    BatchTooLarge,
    DuplicateEventId,
    EmptyList,
    EventExists,
    InvalidValue,
    MalformedJson,
    MissingTransientKey,
    PayloadTooLarge,
)

ORG1, ORG2 = "Org1MSP", "Org2MSP"  # members of conftest's Chain


@pytest.mark.parametrize("limit", ["²", "٣", "\uff15", "0", "501", "", "-1", "1.5", " 1", "1e2"])
@pytest.mark.parametrize("function", ["ReadOwnTraining", "ReadSharedTraining"])
def test_a_training_page_limit_must_be_ascii_digits_from_1_to_500(chain, alice, function, limit):
    chain.register(alice)
    chain.record(chain.event(alice))
    args = ("", limit) if function == "ReadOwnTraining" else (ORG2, "analytics", "", limit)
    err = chain.refused(function, *args)
    assert isinstance(err, InvalidValue) and err.field == "limit"


def test_a_shared_training_page_starts_after_a_customer_id(chain):
    err = chain.refused("ReadSharedTraining", ORG2, "analytics", "k-0001", "10")
    assert isinstance(err, InvalidValue) and err.field == "after"


# --- transient payloads ---------------------------------------------------------------------------


def _valid(chain: Any, customer: Any) -> dict[str, tuple[str, tuple[str, ...], str, bytes,
                                                         int]]:
    """Per case: function, arguments, the transient entry under test, a valid value of it,
    and the size limit of that entry."""
    request = chain.rights(customer, "export", ORG1)
    return {
        "events": ("RecordPreferenceEvents", (), "events",
                   json.dumps([chain.event(customer)]).encode(), 500 * 2048),
        "entries": ("LogReads", (), "entries",
                    json.dumps([chain.entry(customer)]).encode(), 500 * 8192),
        "nonces": ("LogReads", (), "nonces",
                   json.dumps({customer.id: json.loads(request)["nonce"]}).encode(), 500 * 128),
        "export": ("ExportCustomer", (), "request", request, 1024),
        "own-export": ("ExportOwnData", (ORG1,), "request", request, 1024),
        "erase": ("EraseCustomer", (), "request", chain.rights(customer, "erase", ORG1), 1024),
    }


CASES = ("events", "entries", "nonces", "export", "own-export", "erase")


def _with(chain: Any, customer: Any, case: str, value: bytes | None
          ) -> tuple[str, tuple[str, ...], dict[str, bytes]]:
    """The call of ``case`` with its entry under test set to ``value`` (``None``: left out)."""
    function, args, name, _, _ = _valid(chain, customer)[case]
    transient = {}
    if case == "nonces":
        transient["entries"] = json.dumps([chain.entry(customer)]).encode()
    if value is not None:
        transient[name] = value
    return function, args, transient


def _duplicate_key(valid: bytes) -> bytes:
    """``valid`` with its first object's first member repeated (JSON text allows it)."""
    text = valid.decode()
    start = text.index("{") + 1
    first = text[start:text.index(",", start)] if "," in text[start:] else text[start:-1]
    return (text[:start] + first + ", " + text[start:]).encode()


@pytest.mark.parametrize("case", CASES)
def test_a_transient_entry_that_is_empty_duplicated_or_not_utf8_is_malformed(chain, alice, case):
    chain.register(alice)
    _, _, _, valid, _ = _valid(chain, alice)[case]
    for value in (b"", _duplicate_key(valid), b"\xff" + valid, valid[: len(valid) // 2]):
        function, args, transient = _with(chain, alice, case, value)
        assert isinstance(chain.refused(function, *args, transient=transient), MalformedJson)


@pytest.mark.parametrize("case", CASES)
def test_a_transient_entry_over_its_size_limit_is_refused_and_one_at_it_served(chain, alice,
                                                                               case):
    chain.register(alice)
    _, _, _, valid, limit = _valid(chain, alice)[case]
    padded = valid + b" " * (limit + 1 - len(valid))
    function, args, transient = _with(chain, alice, case, padded)
    err = chain.refused(function, *args, transient=transient)
    assert isinstance(err, PayloadTooLarge) and err.details == {"max_bytes": limit}
    # One byte less is the same document, within the limit.
    function, args, transient = _with(chain, alice, case, padded[:-1])
    chain.call(function, *args, transient=transient)


@pytest.mark.parametrize("case", [c for c in CASES if c != "nonces"])  # nonces is optional
def test_a_missing_transient_entry_is_refused(chain, alice, case):
    chain.register(alice)
    function, args, transient = _with(chain, alice, case, None)
    err = chain.refused(function, *args, transient=transient)
    assert isinstance(err, MissingTransientKey)


# --- event batches --------------------------------------------------------------------------------


def test_an_empty_batch_is_refused(chain):
    err = chain.refused("RecordPreferenceEvents", transient={"events": b"[]"})
    assert isinstance(err, EmptyList)


def test_a_batch_over_500_events_is_refused(chain, alice):
    events = json.dumps([chain.event(alice) for _ in range(501)]).encode()
    err = chain.refused("RecordPreferenceEvents", transient={"events": events})
    assert isinstance(err, BatchTooLarge)


def test_a_batch_naming_one_event_twice_is_refused(chain, alice):
    first = chain.event(alice)
    twice = json.dumps([first, chain.event(alice), {**first, "item_id": "sku-2"}]).encode()
    err = chain.refused("RecordPreferenceEvents", transient={"events": twice})
    assert isinstance(err, DuplicateEventId) and err.field == "[2].event_id"


def test_an_event_already_recorded_refuses_its_whole_batch(chain, alice, mallory):
    chain.record(chain.event(alice, event_id="e-kept"))
    batch = [chain.event(mallory), chain.event(alice), chain.event(alice, event_id="e-kept")]
    err = chain.refused("RecordPreferenceEvents",
                        transient={"events": json.dumps(batch).encode()})
    assert isinstance(err, EventExists) and err.field == "[2].event_id"


def test_one_bad_event_refuses_its_whole_batch(chain, alice):
    batch = [chain.event(alice), chain.event(alice), chain.event(alice, salt="short")]
    err = chain.refused("RecordPreferenceEvents",
                        transient={"events": json.dumps(batch).encode()})
    assert isinstance(err, InvalidValue) and err.field == "[2].salt"


# --- dispatch -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("function", "args", "field"), [
    ("ReadPreferences", ("c_x",), "function"),
    ("ReadOwnEvents", (), "args"),
    ("PendingErasures", ("extra",), "args"),
])
def test_an_unknown_function_or_a_wrong_argument_count_is_refused(chain, function, args, field):
    err = chain.refused(function, *args)
    assert isinstance(err, InvalidValue) and err.field == field
