"""Every transaction function of the contract: its arguments, its transient keys and how the
gateway must call it (submit or evaluate), with the names and bounds the transactions share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

#: Fabric CA attribute (written into the enrolment certificate) naming the caller's role.
ROLE_ATTRIBUTE = "prefshare.role"
GATEWAY_ROLE = "gateway"
#: Transient map entries.
EVENTS_KEY = "events"
REQUEST_KEY = "request"
ENTRIES_KEY = "entries"
NONCES_KEY = "nonces"
#: Most access-log entries one LogReads carries.
MAX_LOG_BATCH = 500

#: The event an erasure emits.
CUSTOMER_ERASED = "CustomerErased"
#: Most customers one ReadTrainingEvents page covers (an evaluation must stay small).
MAX_TRAINING_PAGE = 500

Kind = Literal["submit", "evaluate"]


@dataclass(frozen=True)
class Transaction:
    """One transaction function as the dispatcher sees it."""

    name: str
    params: tuple[str, ...]
    kind: Kind
    transient: tuple[str, ...] = ()


#: Every transaction function: arguments, transient keys, and how the gateway must call it.
TRANSACTIONS: Mapping[str, Transaction] = {
    t.name: t
    for t in (
        Transaction("RegisterCustomer", ("public_key",), "submit"),
        Transaction("SubmitConsentStatement", ("statement",), "submit"),
        Transaction("ListConsents", ("customer_id",), "evaluate"),
        Transaction("ConsentHistory", ("customer_id", "consent_id"), "evaluate"),
        Transaction("CheckConsent", ("customer_id", "retailer", "purpose", "category"), "evaluate"),
        Transaction("RecordPreferenceEvents", (), "submit", (EVENTS_KEY,)),
        Transaction("ReadOwnEvents", ("customer_id",), "evaluate"),
        Transaction("ReadOwnTraining", ("after", "limit"), "evaluate"),
        Transaction("ReadSharedEvents", ("customer_id", "reader", "purpose"), "evaluate"),
        Transaction("ReadSharedTraining", ("reader", "purpose", "after", "limit"), "evaluate"),
        Transaction("LogReads", (), "submit", (ENTRIES_KEY,)),
        Transaction("ExportCustomer", (), "evaluate", (REQUEST_KEY,)),
        Transaction("ExportOwnData", ("requester",), "evaluate", (REQUEST_KEY,)),
        Transaction("EraseCustomer", (), "submit", (REQUEST_KEY,)),
        Transaction("PurgeCustomer", ("customer_id",), "submit"),
        Transaction("ErasureProgress", ("customer_id",), "evaluate"),
        Transaction("PendingErasures", (), "evaluate"),
        Transaction("RecordModelProvenance", ("provenance",), "submit"),
        Transaction("GetModelProvenance", ("model_id",), "evaluate"),
        Transaction("RecordWatchEvent", ("record",), "submit"),
        Transaction("ListWatchEvents", (), "evaluate"),
        Transaction("Describe", (), "evaluate"),
    )
}
