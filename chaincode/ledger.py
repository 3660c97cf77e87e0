"""The one surface the contract uses to reach the ledger: :class:`Ledger`.

A ``Ledger`` is the view of *one transaction* being simulated by one endorsing peer. Two
implementations exist:

- :class:`chaincode.shim_ext.ShimLedger`, which speaks the chaincode shim protocol to a real
  peer (``ChaincodeMessage`` over the ``Chaincode.Connect`` stream);
- :class:`chaincode.memory_ledger.MemoryTransaction`, a unit-test double.

Semantics the contract may rely on (they are Fabric's, and the memory double keeps them):

- **Reads never see this transaction's own writes.** Fabric simulates a transaction against
  the committed state; a ``put`` followed by a ``get`` of the same key returns the old value.
  The contract therefore reads everything first and writes last.
- **Absent and empty are the same.** The peer answers an absent key with an empty payload,
  so every ``get`` returns ``None`` for both; the contract never writes empty values.
- **Keys are strings**: simple keys, or composite keys rendered by
  :meth:`chaincode.statekeys.CompositeKey.render`. Range reads take a partial composite key
  and return every key that starts with it, in key order.
- **One event per transaction.** Fabric carries one ``ChaincodeEvent`` in the transaction;
  a second :meth:`Ledger.set_event` replaces the first.
- **Private data hashes** (:meth:`Ledger.get_private_hash`) are SHA-256 of the current
  value, readable by any channel member; like the value itself they leave the *current*
  state on delete or purge. The hash that stays as evidence after a purge is the one in the
  block's hashed write-set, which chaincode cannot read.
- Every method may raise :class:`PeerError` when the peer refuses a request (no collection
  permission, missing ``V2_5`` capability for purge, ...). Refusals of the contract's own
  rules are :class:`chaincode.errors.ChaincodeError`; a ``PeerError`` is not one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from chaincode.statekeys import CompositeKey


class PeerError(RuntimeError):
    """The peer answered a shim request with ``ERROR`` (or with something unexpected).

    ``request`` names the message type (``"PURGE_PRIVATE_DATA"``); the message is the
    peer's own text, which may name keys (pseudonymous ids) but never values.
    """

    def __init__(self, request: str, message: str) -> None:
        super().__init__(f"{request} failed: {message}")
        self.request = request
        self.message = message


@dataclass(frozen=True)
class Creator:
    """The transaction creator as the proposal carries it (``msp.SerializedIdentity``)."""

    msp_id: str
    id_bytes: bytes


@dataclass(frozen=True)
class KeyModification:
    """One committed version of a public key (``queryresult.KeyModification``)."""

    tx_id: str
    value: bytes
    timestamp: datetime
    is_delete: bool


@dataclass(frozen=True)
class Event:
    """The chaincode event of a transaction (``peer.ChaincodeEvent`` name and payload)."""

    name: str
    payload: bytes


class Ledger(Protocol):
    """One transaction's view of the ledger; see the module docstring for semantics."""

    # --- public state ---------------------------------------------------------------------

    async def get_state(self, key: str) -> bytes | None:
        """The committed value of a public key, or None."""
        ...

    async def put_state(self, key: str, value: bytes) -> None:
        """Write a public key (``value`` must not be empty)."""
        ...

    async def delete_state(self, key: str) -> None: ...

    async def get_state_by_partial_key(self, prefix: CompositeKey) -> list[tuple[str, bytes]]:
        """Every ``(key, value)`` whose key starts with ``prefix.render()``, in key order."""
        ...

    async def get_history(self, key: str) -> list[KeyModification]:
        """Every committed version of a public key, as the peer's history database returns
        them (newest first on a Fabric peer; callers must not depend on the order)."""
        ...

    # --- private data -----------------------------------------------------------------------

    async def get_private(self, collection: str, key: str) -> bytes | None: ...

    async def put_private(self, collection: str, key: str, value: bytes) -> None: ...

    async def delete_private(self, collection: str, key: str) -> None:
        """Delete from current state; old versions stay in members' private stores."""
        ...

    async def purge_private(self, collection: str, key: str) -> None:
        """Delete from current state *and* every historical version from members' private
        stores (Fabric 2.5+ ``PurgePrivateData``)."""
        ...

    async def get_private_hash(self, collection: str, key: str) -> bytes | None:
        """SHA-256 of the current private value, or None; needs no collection membership."""
        ...

    async def get_private_by_partial_key(
        self, collection: str, prefix: CompositeKey
    ) -> list[tuple[str, bytes]]:
        """Private ``(key, value)`` pairs under ``prefix``, in key order."""
        ...

    # --- the proposal -------------------------------------------------------------------------

    def transient(self) -> Mapping[str, bytes]:
        """The proposal's transient map (never written to the block)."""
        ...

    def creator(self) -> Creator: ...

    def tx_timestamp(self) -> datetime:
        """The proposal's timestamp (aware UTC): the only clock the contract uses."""
        ...

    def tx_id(self) -> str: ...

    # --- events -----------------------------------------------------------------------------

    def set_event(self, name: str, payload: bytes) -> None:
        """Set the transaction's chaincode event (replaces an earlier one)."""
        ...
