"""Customer-signed rights requests: export everything about her, or erase it.

They are signed like consent statements and spend a nonce from the same
``nonce~<customer_id>~<nonce>`` space, so no signed message can be replayed as another.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from chaincode.canonical import canonical_bytes
from chaincode.fields import (
    MSP_ID_PATTERN,
    check_fields,
    expect_object,
    format_timestamp,
    load_json,
    parse_timestamp,
    read_enum,
    read_str,
)
from chaincode.keys import CustomerKey, read_customer_id
from chaincode.signed import (
    NONCE_PATTERN,
    SIGNATURE_TEXT,
    TimeWindow,
    check_nonce_unused,
    check_signed_time,
)

RightsAction = Literal["export", "erase"]
RIGHTS_ACTIONS: tuple[RightsAction, ...] = ("export", "erase")
#: A rights request must reach the ledger within an hour of being signed.
RIGHTS_WINDOW = TimeWindow(clock_skew=timedelta(minutes=5), max_age=timedelta(hours=1))
MAX_RIGHTS_REQUEST_BYTES = 1024
_FIELDS = ("action", "customer_id", "requested_at", "nonce", "gateway")


@dataclass(frozen=True)
class RightsRequest:
    """A customer's signed request to export or erase everything about her.

    Wire form: ``{"action": "erase", "customer_id": "c_...", "requested_at": "...Z",
    "nonce": "...", "gateway": "Org1MSP", "signature": "..."}``; the signature covers the
    RFC 8785 bytes of the object without ``signature``. ``gateway`` names the one member
    whose gateway may serve it: a copy that reaches another member is refused there.
    """

    action: RightsAction
    customer_id: str
    requested_at: datetime
    nonce: str
    gateway: str
    signature: str

    @classmethod
    def from_json(cls, data: bytes | str) -> RightsRequest:
        obj = expect_object(load_json(data, max_bytes=MAX_RIGHTS_REQUEST_BYTES))
        check_fields(obj, required=(*_FIELDS, "signature"))
        return cls(
            action=cast(RightsAction, read_enum(obj["action"], "action", RIGHTS_ACTIONS)),
            customer_id=read_customer_id(obj["customer_id"]),
            requested_at=parse_timestamp(obj["requested_at"], "requested_at"),
            nonce=read_str(
                obj["nonce"],
                "nonce",
                pattern=NONCE_PATTERN,
                rule="nonce must be 16..64 base64url characters",
            ),
            gateway=read_str(obj["gateway"], "gateway", pattern=MSP_ID_PATTERN),
            signature=read_str(obj["signature"], "signature", pattern=SIGNATURE_TEXT),
        )

    def unsigned_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "customer_id": self.customer_id,
            "requested_at": format_timestamp(self.requested_at),
            "nonce": self.nonce,
            "gateway": self.gateway,
        }

    def signed_bytes(self) -> bytes:
        return canonical_bytes(self.unsigned_dict())

    def to_dict(self) -> dict[str, Any]:
        return {**self.unsigned_dict(), "signature": self.signature}

    def verify(
        self,
        key: CustomerKey,
        *,
        now: datetime,
        used_nonces: Container[str],
        window: TimeWindow = RIGHTS_WINDOW,
    ) -> None:
        """Accept the request or raise CustomerMismatch, MalformedSignature,
        BadSignature, ReplayedNonce, NotYetValid or Backdated.

        After acting on it the contract writes ``nonce_key(customer_id, nonce)``.
        """
        key.require_customer(self.customer_id)
        key.verify(self.signed_bytes(), self.signature)
        check_nonce_unused(self.nonce, used_nonces)
        check_signed_time(self.requested_at, now, window, field="requested_at")
