"""What the demo keeps in the run folder (``.run/demo/``), so a second run reuses it.

* ``customers.json`` (mode 0600): each world customer's key pair as the consent portal's
  backup format (a P-256 JWK with ``d``), with her ledger customer id. Written before any of
  them is registered, so an interrupted seeding resumes with the same keys.
* ``credentials.json`` (mode 0600): per retailer, the admin credential the seeder and
  training use and the demo store credential printed for the kiosk.
* ``seeded.json``: what the seeding wrote and when; its presence means the ledger is seeded.
* ``<customer>-key-backup.json`` (mode 0600): the demo customer's key, to restore in the portal.

The folder lives in the run folder, so ``make network-clean`` removes it with the ledger it
describes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from chaincode.canonical import b64url_decode, b64url_encode
from demo.wallet import DemoCustomer


def key_to_jwk(customer: DemoCustomer) -> dict[str, Any]:
    """Her private key as the JWK the portal's backup file holds (WebCrypto's export)."""
    numbers = customer.private_key.private_numbers()
    public = numbers.public_numbers

    def b64(value: int) -> str:
        return b64url_encode(value.to_bytes(32, "big"))

    return {"crv": "P-256", "d": b64(numbers.private_value), "ext": True,
            "key_ops": ["sign"], "kty": "EC", "x": b64(public.x), "y": b64(public.y)}


def key_from_jwk(jwk: dict[str, Any]) -> DemoCustomer:
    """The inverse of :func:`key_to_jwk`. Raises ValueError for a key that is not P-256."""
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise ValueError("not a P-256 key")
    private = int.from_bytes(b64url_decode(jwk["d"], field="d"), "big")
    return DemoCustomer(ec.derive_private_key(private, ec.SECP256R1()))


def _write_private(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=1)
    tmp.replace(path)


@dataclass(frozen=True)
class DemoState:
    root: Path

    @property
    def seeded_file(self) -> Path:
        return self.root / "seeded.json"

    def seeded(self) -> dict[str, Any] | None:
        """The seeding record, or None when the ledger is not (completely) seeded."""
        try:
            return dict(json.loads(self.seeded_file.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None

    def record_seeded(self, record: dict[str, Any]) -> None:
        _write_private(self.seeded_file, record)

    def customers(self, world_ids: list[str]) -> dict[str, DemoCustomer]:
        """Each world customer's key: the kept ones, new ones for the others (kept at once)."""
        path = self.root / "customers.json"
        kept: dict[str, Any] = {}
        if path.exists():
            kept = json.loads(path.read_text(encoding="utf-8"))
        keys = {w: key_from_jwk(kept[w]["key"]) for w in world_ids if w in kept}
        if len(keys) < len(world_ids):
            for w in world_ids:
                keys.setdefault(w, DemoCustomer.new())
            _write_private(path, {w: {"customer_id": k.customer_id, "key": key_to_jwk(k)}
                                  for w, k in keys.items()})
        return keys

    def credentials(self) -> dict[str, dict[str, str]]:
        path = self.root / "credentials.json"
        return dict(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else {}

    def record_credentials(self, credentials: dict[str, dict[str, str]]) -> None:
        _write_private(self.root / "credentials.json", credentials)

    def key_backup(self, customer: DemoCustomer) -> Path:
        """Where her key backup is kept (:meth:`write_key_backup`)."""
        return self.root / f"{customer.customer_id}-key-backup.json"

    def write_key_backup(self, customer: DemoCustomer) -> Path:
        path = self.key_backup(customer)
        _write_private(path, key_to_jwk(customer))
        return path
