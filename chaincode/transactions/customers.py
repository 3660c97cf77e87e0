"""Transactions on customers and their consents (public state; the customer's signature is
the authority): registration, consent statements, the consent list and history, the check.
"""

from __future__ import annotations

from chaincode.consent import (
    ConsentRecord,
    apply_statement,
    consent_key,
)
from chaincode.consent_statement import DATA_CATEGORIES, PURPOSES, parse_signed_statement
from chaincode.errors import (
    Backdated,
    ConsentNotFound,
    CustomerErased,
    CustomerExists,
)
from chaincode.fields import (
    ID_PATTERN,
    MSP_ID_PATTERN,
    read_enum,
    read_str,
)
from chaincode.keys import CustomerRecord, customer_key, read_customer_id
from chaincode.ledger import Ledger
from chaincode.policy import decide_read
from chaincode.transactions.base import ContractBase, Writes, encode

#: The event each consent statement emits, by action.
CONSENT_EVENTS = {
    "grant": "ConsentGranted",
    "narrow": "ConsentNarrowed",
    "withdraw": "ConsentWithdrawn",
}


class CustomerTransactions(ContractBase):
    """RegisterCustomer, SubmitConsentStatement, ListConsents, ConsentHistory, CheckConsent."""

    async def register_customer(self, ledger: Ledger, public_key: str) -> bytes:
        """Register a customer's P-256 key; returns the customer record."""
        record = CustomerRecord.register(public_key, now=ledger.tx_timestamp())
        key = customer_key(record.customer_id).render()
        if await ledger.get_state(key) is not None:
            raise CustomerExists("customer key is already registered", field="public_key")
        writes = Writes(public=[(key, record.to_json_bytes())])
        await writes.apply(ledger, self.collection)
        return record.to_json_bytes()

    async def submit_consent_statement(self, ledger: Ledger, statement: str) -> bytes:
        """Apply a customer-signed grant, narrowing or withdrawal; returns the new record."""
        signed = parse_signed_statement(statement)
        body = signed.statement
        customer = await self._customer(ledger, body.customer_id, open_only=False)
        if customer.erased_at is not None and body.action != "grant":
            raise CustomerErased("the customer erased her data; only a new grant reopens it",
                                 field="customer_id")
        erased_at = await self._latest_erasure_at(ledger, body.customer_id)
        if erased_at is not None and body.given_at <= erased_at:
            # Nothing she signed before her erasure counts after it: a grant must not reopen
            # her id, and once a later grant has reopened it, an older one must not widen it.
            raise Backdated("signed before her latest erasure", field="given_at")
        record_key = consent_key(body.customer_id, body.consent_id).render()
        stored = await ledger.get_state(record_key)
        current = None if stored is None else ConsentRecord.from_json(stored)
        used = await self._used_nonces(ledger, body.customer_id, body.nonce)
        now = ledger.tx_timestamp()
        record = apply_statement(current, signed, customer.key, now=now, used_nonces=used)
        reopened = ([(customer_key(customer.customer_id).render(),
                      customer.reopened().to_json_bytes())]
                    if customer.erased_at is not None else [])
        writes = Writes(
            public=[
                (record_key, record.to_json_bytes()),
                self._spend_nonce(ledger, body.customer_id, body.nonce, body.action),
                *reopened,
            ],
            event=(
                CONSENT_EVENTS[body.action],
                encode(
                    {
                        "customer_id": record.customer_id,
                        "consent_id": record.consent_id,
                        "version": record.version,
                    }
                ),
            ),
        )
        await writes.apply(ledger, self.collection)
        return record.to_json_bytes()

    async def list_consents(self, ledger: Ledger, customer_id: str) -> bytes:
        """Every consent of a registered customer, with its status at the transaction time."""
        customer = await self._customer(ledger, read_customer_id(customer_id))
        now = ledger.tx_timestamp()
        consents = await self._consents(ledger, customer.customer_id)
        return encode(
            {
                "customer_id": customer.customer_id,
                "consents": [{**c.to_dict(), "status": c.status(now)} for c in consents],
            }
        )

    async def consent_history(self, ledger: Ledger, customer_id: str, consent_id: str) -> bytes:
        """Every committed version of one consent record, oldest first."""
        cid = read_customer_id(customer_id)
        kid = read_str(consent_id, "consent_id", pattern=ID_PATTERN)
        versions = await self._history(ledger, consent_key(cid, kid).render())
        if not versions:
            raise ConsentNotFound("no consent with this id", field="consent_id")
        return encode({"customer_id": cid, "consent_id": kid, "versions": versions})

    async def check_consent(
        self, ledger: Ledger, customer_id: str, retailer: str, purpose: str, category: str
    ) -> bytes:
        """May the caller read ``customer_id``'s ``category`` data held by ``retailer`` for
        ``purpose`` now? Returns the basis, or raises the refusal (NOT_A_RECIPIENT,
        PURPOSE_NOT_GRANTED, CATEGORY_NOT_GRANTED, CONSENT_EXPIRED, CONSENT_WITHDRAWN,
        CONSENT_NOT_FOUND). Reads public state only."""
        caller = self._caller(ledger)
        cid = read_customer_id(customer_id)
        holder = read_str(retailer, "retailer", pattern=MSP_ID_PATTERN)
        read_enum(purpose, "purpose", PURPOSES)
        read_enum(category, "category", DATA_CATEGORIES)
        await self._customer(ledger, cid)
        consents = await self._consents(ledger, cid)
        decision = decide_read(
            caller.msp_id, cid, holder, purpose, category, consents, ledger.tx_timestamp()
        )
        decision.raise_if_refused()
        return encode({"allowed": True, "basis": decision.basis, "consent_id": decision.consent_id})
