"""The prefshare contract: its transaction functions, over a :class:`chaincode.ledger.Ledger`.

Each function takes the transaction's ledger view and string arguments, and returns the
response payload as RFC 8785 JSON bytes (identical on every endorsing peer) or raises a
:class:`chaincode.errors.ChaincodeError`. The record rules live in the pure modules; this
module only reads, decides through them, and writes.

Two rules shape every function:

- **Validate everything before the first write.** A submit function gathers all its
  writes in a :class:`chaincode.transactions.base.Writes` plan and applies them only once
  every check has passed, so a refusal leaves nothing staged. (Fabric would drop a failed
  simulation anyway; the plan makes the rule structural rather than a matter of statement
  order, and matches Fabric's lack of read-your-writes: all reads happen before any write.)
- **What goes into the block is public.** Arguments and the response of a *submitted*
  transaction are written into the block for every member to read. So private data arrives
  only through the transient map, a submit function never returns private values, and the
  functions that return private values (``ReadOwnEvents``, ``ReadSharedEvents``, the
  training pages, ``ExportCustomer``, ``ExportOwnData``) write nothing and must be
  *evaluated*, never submitted: a peer cannot tell the two apart, so this is the gateway's
  duty (see ``TRANSACTIONS[...].kind``).

Access logging: a read in Fabric is an *evaluate*, which is neither ordered nor committed,
so it cannot write a log entry. The owner's gateway submits ``LogReads`` for every shared
read it served (reader, purpose, kind, count, consent ids) into the owner's own collection;
an export entry also marks her request served there, so ``ExportOwnData`` serves it once.
The chaincode cannot force the log: it is the owner's gateway's duty (docs/chaincode.md,
what the design does not stop).

Callers: functions touching preference data, her rights or model provenance need the
Fabric CA attribute ``prefshare.role=gateway`` in the creator certificate (the identity each
retailer's gateway enrols with, see ``network/plan.py``); those on the owner's collection
need the owner's own gateway (``RETAILER_MISMATCH`` otherwise). Customer registration and
consent statements may be carried by any channel member: the customer's signature is the
authority.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from chaincode.errors import InvalidValue
from chaincode.ledger import Ledger
from chaincode.transactions.customers import CustomerTransactions
from chaincode.transactions.events import EventTransactions
from chaincode.transactions.public_records import PublicRecordTransactions
from chaincode.transactions.rights import RightsTransactions
from chaincode.transactions.table import TRANSACTIONS


class PrefshareContract(CustomerTransactions, EventTransactions, RightsTransactions,
                        PublicRecordTransactions):
    """The transaction functions as one retailer's chaincode server runs them, each area's in
    a module of :mod:`chaincode.transactions` (arguments as in
    :class:`chaincode.transactions.base.ContractBase`)."""

    async def invoke(self, ledger: Ledger, function: str, args: Sequence[str]) -> bytes:
        """Dispatch ``function(*args)``; raises InvalidValue for an unknown function or a
        wrong number of arguments."""
        spec = TRANSACTIONS.get(function)
        if spec is None:
            raise InvalidValue("no transaction function of this name", field="function")
        if len(args) != len(spec.params):
            raise InvalidValue(
                f"{function} takes {len(spec.params)} argument(s): {', '.join(spec.params)}",
                field="args",
            )
        return await _FUNCTIONS[function](self, ledger, *args)


#: Each transaction name's function (the names are the contract's interface: never renamed).
_FUNCTIONS: Mapping[str, Callable[..., Awaitable[bytes]]] = {
    "RegisterCustomer": CustomerTransactions.register_customer,
    "SubmitConsentStatement": CustomerTransactions.submit_consent_statement,
    "ListConsents": CustomerTransactions.list_consents,
    "ConsentHistory": CustomerTransactions.consent_history,
    "CheckConsent": CustomerTransactions.check_consent,
    "RecordPreferenceEvents": EventTransactions.record_preference_events,
    "ReadOwnEvents": EventTransactions.read_own_events,
    "ReadOwnTraining": EventTransactions.read_own_training,
    "ReadSharedEvents": EventTransactions.read_shared_events,
    "ReadSharedTraining": EventTransactions.read_shared_training,
    "LogReads": EventTransactions.log_reads,
    "ExportCustomer": RightsTransactions.export_customer,
    "ExportOwnData": RightsTransactions.export_own_data,
    "EraseCustomer": RightsTransactions.erase_customer,
    "PurgeCustomer": RightsTransactions.purge_customer,
    "ErasureProgress": RightsTransactions.erasure_progress,
    "PendingErasures": RightsTransactions.pending_erasures,
    "RecordModelProvenance": PublicRecordTransactions.record_model_provenance,
    "GetModelProvenance": PublicRecordTransactions.get_model_provenance,
    "RecordWatchEvent": PublicRecordTransactions.record_watch_event,
    "ListWatchEvents": PublicRecordTransactions.list_watch_events,
    "Describe": PublicRecordTransactions.describe,
}
