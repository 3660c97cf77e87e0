"""Customers who sign like a WebCrypto client, a fixed transaction time, and the contract
on the memory ledger (a unit-test double: see chaincode.memory_ledger)."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fabric_protos.common import common_pb2
from fabric_protos.ledger.queryresult import kv_query_result_pb2 as kv_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import chaincode_pb2, proposal_pb2
from fabric_protos.peer import chaincode_shim_pb2 as shim_pb2

from chaincode.canonical import b64url_encode
from chaincode.collection_config import collection_for
from chaincode.consent_statement import SignedStatement, parse_signed_statement
from chaincode.contract import PrefshareContract
from chaincode.errors import ChaincodeError
from chaincode.fields import format_timestamp
from chaincode.holdings import OwnerKeys
from chaincode.identity import FABRIC_CA_ATTRS_OID
from chaincode.keys import CustomerKey, export_public_key, sign_document
from chaincode.ledger import Creator, KeyModification
from chaincode.memory_ledger import MemoryLedger, MemoryTransaction
from chaincode.statekeys import CompositeKey
from chaincode.transactions.table import TRANSACTIONS

#: The transaction timestamp every test runs "at".
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

_nonces = itertools.count()


@dataclass
class Customer:
    private_key: ec.EllipticCurvePrivateKey
    key: CustomerKey = field(init=False)

    def __post_init__(self) -> None:
        self.key = CustomerKey.from_b64url(export_public_key(self.private_key))

    @property
    def id(self) -> str:
        return self.key.customer_id

    def statement(self, action: str = "grant", **overrides: Any) -> dict[str, Any]:
        """A valid statement document (before signing), fields overridable."""
        doc: dict[str, Any] = {
            "action": action,
            "consent_id": "k-0001",
            "customer_id": self.id,
            "given_at": format_timestamp(NOW - timedelta(minutes=1)),
            "nonce": f"nonce-{next(_nonces):010d}-abcdef",
            "collection_method": "kiosk",
            "policy_version": "2025-01",
            "jurisdiction": "DE",
        }
        if action != "withdraw":
            doc.update(
                recipients=["Org2MSP", "Org3MSP"],
                purposes=["personalisation", "analytics"],
                data_categories=["purchases", "views", "stated_preferences"],
                expires_at=format_timestamp(NOW + timedelta(days=365)),
            )
        doc.update(overrides)
        return {k: v for k, v in doc.items() if v is not None}

    def sign(self, doc: dict[str, Any]) -> str:
        return sign_document(self.private_key, doc)

    def wire(self, doc: dict[str, Any]) -> str:
        """The signed JSON text a client sends."""
        return json.dumps({**doc, "signature": self.sign(doc)})

    def signed(self, action: str = "grant", **overrides: Any) -> SignedStatement:
        return parse_signed_statement(self.wire(self.statement(action, **overrides)))


def new_customer() -> Customer:
    return Customer(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="session")
def alice() -> Customer:
    return new_customer()


@pytest.fixture(scope="session")
def mallory() -> Customer:
    return new_customer()


@pytest.fixture(scope="session")
def now() -> datetime:
    return NOW


# --- the contract on the memory ledger ---------------------------------------------------------

ORG1, ORG2, ORG3 = "Org1MSP", "Org2MSP", "Org3MSP"
_certs: dict[str | None, bytes] = {}


def caller_cert(role: str | None = "gateway") -> bytes:
    """A PEM certificate carrying the Fabric CA attribute ``prefshare.role`` (or none)."""
    if role not in _certs:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway")])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(7)
            .not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=3650))
        )
        if role is not None:
            attrs = {"hf.Type": "client", "prefshare.role": role}
            builder = builder.add_extension(
                x509.UnrecognizedExtension(
                    FABRIC_CA_ATTRS_OID, json.dumps({"attrs": attrs}).encode()
                ),
                critical=False,
            )
        cert = builder.sign(key, hashes.SHA256())
        _certs[role] = cert.public_bytes(serialization.Encoding.PEM)
    return _certs[role]


_salts = itertools.count()


def event_doc(customer: Customer, retailer: str = ORG1, **overrides: Any) -> dict[str, Any]:
    """A valid preference event; ``event_id`` and salt unique per call."""
    n = next(_salts)
    doc: dict[str, Any] = {
        "event_id": f"e-{n:06d}",
        "customer_id": customer.id,
        "retailer": retailer,
        "item_id": "sku-4711",
        "item_category": "outdoor/shoes",
        "event_type": "purchase",
        "value": 1,
        "store_id": "berlin-01",
        "timestamp": format_timestamp(NOW - timedelta(hours=1)),
        "salt": b64url_encode(n.to_bytes(16, "big")),
    }
    doc.update(overrides)
    return doc


def rights_request(customer: Customer, action: str, gateway: str = ORG1, *,
                   signed_at: datetime = NOW - timedelta(minutes=1),
                   **overrides: Any) -> bytes:
    """Her signed export or erase request for the member ``gateway``'s gateway to serve,
    signed at ``signed_at``; ``overrides`` change the document before it is signed."""
    doc: dict[str, Any] = {
        "action": action,
        "customer_id": customer.id,
        "requested_at": format_timestamp(signed_at),
        "nonce": f"rights-{next(_nonces):010d}-abcdef",
        "gateway": gateway,
    }
    doc.update(overrides)
    return json.dumps({**doc, "signature": customer.sign(doc)}).encode()


def read_entry(customer: Customer, reader: str = ORG2, owner: str = ORG1,
               **overrides: Any) -> dict[str, Any]:
    """An owner's access-log entry for one shared read of her data."""
    doc: dict[str, Any] = {
        "customer_id": customer.id,
        "owner": owner,
        "reader": reader,
        "purpose": "personalisation",
        "kind": "kiosk",
        "at": format_timestamp(NOW),
        "count": 1,
        "consent_ids": ["k-0001"],
    }
    doc.update(overrides)
    return doc


MEMBERS = (ORG1, ORG2, ORG3)
#: Each owner's secret (32 bytes, distinct), as its chaincode servers read it from a file.
SECRETS = {msp: hashlib.sha256(f"secret of {msp}".encode()).digest() for msp in MEMBERS}


def owner_contract(owner: str = ORG1, secret: bytes | None = None,
                   members: tuple[str, ...] = MEMBERS) -> PrefshareContract:
    """The contract as ``owner``'s chaincode server runs it."""
    return PrefshareContract(owner, OwnerKeys(secret or SECRETS[owner]), members)


class ReadRecorder:
    """A :class:`chaincode.ledger.Ledger` over one memory transaction that notes every read,
    as a Fabric read set would: public keys and ranges (which a block names in clear) and
    private keys per collection (which a block names hashed)."""

    def __init__(self, tx: MemoryTransaction) -> None:
        self.tx = tx
        #: Public keys read (``get_state``, ``get_history``) and range prefixes read.
        self.public: list[str] = []
        #: ``(collection, key)`` of every private read, hash read or private range prefix.
        self.private: list[tuple[str, str]] = []

    async def get_state(self, key: str) -> bytes | None:
        self.public.append(key)
        return await self.tx.get_state(key)

    async def put_state(self, key: str, value: bytes) -> None:
        await self.tx.put_state(key, value)

    async def delete_state(self, key: str) -> None:
        await self.tx.delete_state(key)

    async def get_state_by_partial_key(self, prefix: CompositeKey) -> list[tuple[str, bytes]]:
        self.public.append(prefix.render())
        return await self.tx.get_state_by_partial_key(prefix)

    async def get_history(self, key: str) -> list[KeyModification]:
        self.public.append(key)
        return await self.tx.get_history(key)

    async def get_private(self, collection: str, key: str) -> bytes | None:
        self.private.append((collection, key))
        return await self.tx.get_private(collection, key)

    async def put_private(self, collection: str, key: str, value: bytes) -> None:
        await self.tx.put_private(collection, key, value)

    async def delete_private(self, collection: str, key: str) -> None:
        await self.tx.delete_private(collection, key)

    async def purge_private(self, collection: str, key: str) -> None:
        await self.tx.purge_private(collection, key)

    async def get_private_hash(self, collection: str, key: str) -> bytes | None:
        self.private.append((collection, key))
        return await self.tx.get_private_hash(collection, key)

    async def get_private_by_partial_key(
        self, collection: str, prefix: CompositeKey
    ) -> list[tuple[str, bytes]]:
        self.private.append((collection, prefix.render()))
        return await self.tx.get_private_by_partial_key(collection, prefix)

    def transient(self) -> Mapping[str, bytes]:
        return self.tx.transient()

    def creator(self) -> Creator:
        return self.tx.creator()

    def tx_timestamp(self) -> datetime:
        return self.tx.tx_timestamp()

    def tx_id(self) -> str:
        return self.tx.tx_id()

    def set_event(self, name: str, payload: bytes) -> None:
        self.tx.set_event(name, payload)


class Chain:
    """One channel (a memory ledger) and each member's chaincode server over it, each with
    its own secret. A call runs on the caller's own peer's server unless ``on`` names
    another (a gateway reaching another member's peer); submits commit, evaluates do not."""

    def __init__(self) -> None:
        self.ledger = MemoryLedger()
        self.servers = {msp: owner_contract(msp) for msp in MEMBERS}
        #: Org1's server, for the tests that need just one.
        self.contract = self.servers[ORG1]
        self.last: MemoryTransaction | None = None
        self.reads: ReadRecorder | None = None

    def call(
        self,
        function: str,
        *args: str,
        msp: str = ORG1,
        on: str | None = None,
        role: str | None = "gateway",
        transient: dict[str, bytes] | None = None,
        at: datetime = NOW,
    ) -> Any:
        """Run ``function`` on ``on``'s server (default: the caller's own); returns the
        decoded JSON response or raises ChaincodeError."""
        tx = self.ledger.begin(Creator(msp, caller_cert(role)), timestamp=at, transient=transient)
        self.last = tx
        self.reads = ReadRecorder(tx)
        server = self.servers[on or msp]
        response = asyncio.run(server.invoke(self.reads, function, list(args)))
        if TRANSACTIONS[function].kind == "submit":
            self.ledger.commit(tx, response)
        else:
            assert tx.writes == [] and tx.event is None, f"{function} wrote on evaluate"
        return json.loads(response)

    def refused(self, function: str, *args: str, **kwargs: Any) -> ChaincodeError:
        """Run ``function`` expecting a refusal; asserts nothing was written or staged."""
        before = self.ledger.snapshot()
        with pytest.raises(ChaincodeError) as info:
            self.call(function, *args, **kwargs)
        assert self.last is not None
        assert self.last.writes == [], "a refused call staged writes"
        assert self.last.event is None, "a refused call set an event"
        assert self.ledger.snapshot() == before
        return info.value

    # shortcuts
    now = NOW
    event = staticmethod(event_doc)
    rights = staticmethod(rights_request)
    entry = staticmethod(read_entry)
    members = MEMBERS
    new_customer = staticmethod(new_customer)
    cert = staticmethod(caller_cert)

    def collection(self, owner: str = ORG1) -> dict[str, bytes]:
        """The current private state of ``owner``'s collection (what its peers store)."""
        return self.ledger.private.get(collection_for(owner), {})

    def register(self, customer: Customer) -> Any:
        return self.call("RegisterCustomer", customer.key.b64url)

    def consent(self, customer: Customer, action: str = "grant", *, at: datetime = NOW,
                **overrides: Any) -> Any:
        """Her signed statement (``overrides`` change it before she signs), submitted at
        ``at``."""
        return self.call(
            "SubmitConsentStatement", customer.wire(customer.statement(action, **overrides)),
            at=at,
        )

    def record(self, *docs: dict[str, Any], msp: str = ORG1, **kwargs: Any) -> Any:
        return self.call(
            "RecordPreferenceEvents",
            msp=msp,
            transient={"events": json.dumps(list(docs)).encode()},
            **kwargs,
        )

    def shared(self, customer: Customer, reader: str = ORG2,
               purpose: str = "personalisation", *, owner: str = ORG1, **kwargs: Any) -> Any:
        """ReadSharedEvents as ``owner``'s gateway serves it to ``reader``."""
        return self.call("ReadSharedEvents", customer.id, reader, purpose, msp=owner,
                         **kwargs)

    def log_reads(self, *entries: dict[str, Any], owner: str = ORG1,
                  nonces: dict[str, str] | None = None, **kwargs: Any) -> Any:
        transient = {"entries": json.dumps(list(entries)).encode()}
        if nonces is not None:
            transient["nonces"] = json.dumps(nonces).encode()
        return self.call("LogReads", msp=owner, transient=transient, **kwargs)

    def erase(self, customer: Customer, gateway: str = ORG1, *,
              at: datetime = NOW, signed_at: datetime | None = None) -> Any:
        """Her erasure, accepted by ``gateway``'s gateway at ``at`` (signed a minute before
        unless ``signed_at`` says otherwise)."""
        request = rights_request(customer, "erase", gateway,
                                 signed_at=signed_at or at - timedelta(minutes=1))
        return self.call("EraseCustomer", msp=gateway, transient={"request": request}, at=at)

    def purge(self, customer: Customer, owner: str = ORG1, **kwargs: Any) -> Any:
        return self.call("PurgeCustomer", customer.id, msp=owner, **kwargs)


@pytest.fixture
def chain() -> Chain:
    return Chain()


# --- a scripted peer, for the shim extension ---------------------------------------------------


class FakePeer:
    """Answers shim requests the way our reading of Fabric's ``core/chaincode/handler.go``
    says a peer does. It checks our own protocol assumptions for consistency; it is not a
    Fabric peer and proves nothing about one."""

    def __init__(self, page_size: int = 2) -> None:
        self.state: dict[str, bytes] = {}
        self.private: dict[str, dict[str, bytes]] = {}
        self.history: dict[str, list[Any]] = {}
        self.requests: list[Any] = []
        self.writes: list[tuple[str, str, str, bytes]] = []  # (type, collection, key, value)
        self.refuse: dict[str, str] = {}  # request type name -> error text
        self.page_size = page_size
        self._queries: dict[str, list[bytes]] = {}

    async def ask(self, msg: Any) -> Any:
        return self.answer(msg)

    def answer(self, msg: Any) -> Any:
        self.requests.append(msg)
        name = shim_pb2.ChaincodeMessage.Type.Name(msg.type)
        if name in self.refuse:
            return self._reply(msg, shim_pb2.ChaincodeMessage.ERROR, self.refuse[name].encode())
        payload = getattr(self, "_" + name.lower())(msg.payload)
        return self._reply(msg, shim_pb2.ChaincodeMessage.RESPONSE, payload)

    @staticmethod
    def _reply(msg: Any, kind: int, payload: bytes) -> Any:
        return shim_pb2.ChaincodeMessage(
            type=kind, payload=payload, txid=msg.txid, channel_id=msg.channel_id
        )

    def _store(self, collection: str) -> dict[str, bytes]:
        return self.private.setdefault(collection, {}) if collection else self.state

    def _get_state(self, payload: bytes) -> bytes:
        req = shim_pb2.GetState.FromString(payload)
        return self._store(req.collection).get(req.key, b"")

    def _get_private_data_hash(self, payload: bytes) -> bytes:
        req = shim_pb2.GetState.FromString(payload)
        value = self.private.get(req.collection, {}).get(req.key)
        return hashlib.sha256(value).digest() if value else b""

    def _put_state(self, payload: bytes) -> bytes:
        req = shim_pb2.PutState.FromString(payload)
        self.writes.append(("PUT_STATE", req.collection, req.key, req.value))
        return b""

    def _del_state(self, payload: bytes) -> bytes:
        req = shim_pb2.DelState.FromString(payload)
        self.writes.append(("DEL_STATE", req.collection, req.key, b""))
        return b""

    def _purge_private_data(self, payload: bytes) -> bytes:
        req = shim_pb2.DelState.FromString(payload)
        self.writes.append(("PURGE_PRIVATE_DATA", req.collection, req.key, b""))
        return b""

    def _get_state_by_range(self, payload: bytes) -> bytes:
        req = shim_pb2.GetStateByRange.FromString(payload)
        store = self._store(req.collection)
        rows = [
            kv_pb2.KV(namespace="prefshare", key=k, value=store[k]).SerializeToString()
            for k in sorted(store)
            if req.startKey <= k < req.endKey
        ]
        return self._page(rows)

    def _get_history_for_key(self, payload: bytes) -> bytes:
        req = shim_pb2.GetHistoryForKey.FromString(payload)
        return self._page([m.SerializeToString() for m in self.history.get(req.key, [])])

    def _page(self, rows: list[bytes]) -> bytes:
        query_id = f"q{len(self._queries) + 1}"
        self._queries[query_id] = rows
        return self._next_page(query_id)

    def _next_page(self, query_id: str) -> bytes:
        rows = self._queries[query_id]
        page, rest = rows[: self.page_size], rows[self.page_size :]
        self._queries[query_id] = rest
        return shim_pb2.QueryResponse(
            results=[shim_pb2.QueryResultBytes(resultBytes=r) for r in page],
            has_more=bool(rest),
            id=query_id,
        ).SerializeToString()

    def _query_state_next(self, payload: bytes) -> bytes:
        return self._next_page(shim_pb2.QueryStateNext.FromString(payload).id)

    def _query_state_close(self, payload: bytes) -> bytes:
        query_id = shim_pb2.QueryStateClose.FromString(payload).id
        self._queries.pop(query_id, None)
        return shim_pb2.QueryResponse(has_more=False, id=query_id).SerializeToString()

    def commit(self) -> None:
        """Apply the writes seen so far (as if the transaction were committed)."""
        for kind, collection, key, value in self.writes:
            if kind == "PUT_STATE":
                self._store(collection)[key] = value
            else:
                self._store(collection).pop(key, None)
        self.writes.clear()


def signed_proposal(
    msp: str = ORG1,
    *,
    role: str | None = "gateway",
    transient: dict[str, bytes] | None = None,
    at: datetime = NOW,
    tx_id: str = "tx-1",
) -> Any:
    """A ``SignedProposal`` as a client would send it (signature not checked here)."""
    channel_header = common_pb2.ChannelHeader(type=3, channel_id="prefshare", tx_id=tx_id)
    channel_header.timestamp.FromDatetime(at)
    creator = identities_pb2.SerializedIdentity(mspid=msp, id_bytes=caller_cert(role))
    signature_header = common_pb2.SignatureHeader(
        creator=creator.SerializeToString(), nonce=b"n" * 24
    )
    header = common_pb2.Header(
        channel_header=channel_header.SerializeToString(),
        signature_header=signature_header.SerializeToString(),
    )
    payload = proposal_pb2.ChaincodeProposalPayload(input=b"spec", TransientMap=transient or {})
    proposal = proposal_pb2.Proposal(
        header=header.SerializeToString(), payload=payload.SerializeToString()
    )
    return proposal_pb2.SignedProposal(proposal_bytes=proposal.SerializeToString(), signature=b"s")


def transaction_message(function: str, *args: str, tx_id: str = "tx-1", **kwargs: Any) -> Any:
    """The ``TRANSACTION`` message a peer sends for ``function(*args)``."""
    spec = chaincode_pb2.ChaincodeInput(args=[a.encode() for a in (function, *args)])
    return shim_pb2.ChaincodeMessage(
        type=shim_pb2.ChaincodeMessage.TRANSACTION,
        payload=spec.SerializeToString(),
        txid=tx_id,
        channel_id="prefshare",
        proposal=signed_proposal(tx_id=tx_id, **kwargs),
    )


@pytest.fixture
def fake_peer() -> FakePeer:
    return FakePeer()


@pytest.fixture
def transaction() -> Any:
    """Builds the ``TRANSACTION`` message a peer sends (see :func:`transaction_message`)."""
    return transaction_message
