"""Member-to-member reads: a retailer's gateway asks the owner's gateway for the owner's
events about a customer, and the owner checks her consent and logs the read.

Why through the owner's gateway and not an evaluate on the owner's peer: Fabric's evaluate
writes nothing, so the owner could not log a read served by its peer; here the owner serves,
logs (:mod:`gateway.read_log`) and its chaincode checks her consent at the time of the read,
so neither the log nor a withdrawal depends on the reader's honesty. The owner's collection
keeps ``memberOnlyRead``: no other member's client reaches its data through its peer at all.

Authentication: the reader signs each request with its gateway's Fabric enrolment key (the
identity the ledger knows it by), over method, path, time, a nonce and the body's hash, and
sends its certificate. The owner checks that the certificate was issued by the reader's
organisation CA (``members[].msp_root``), carries ``prefshare.role=gateway``, that the
signature verifies, the time is within :data:`MAX_SKEW_S` and the nonce is new. (TLS client
certificates would do the same at the transport, but uvicorn does not hand the client's
certificate to the application; a signature also binds the body.)
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from chaincode.errors import ChaincodeError
from chaincode.identity import identity_from_creator

#: Request time against the owner's clock, either way.
MAX_SKEW_S = 60.0
CERT_HEADER = "X-Prefshare-Member-Cert"
SIGNATURE_HEADER = "X-Prefshare-Member-Signature"
TIME_HEADER = "X-Prefshare-Member-Time"
NONCE_HEADER = "X-Prefshare-Member-Nonce"


class MemberAuthError(Exception):
    """A member request that does not authenticate; ``reason`` is machine-readable."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class MemberUnavailable(Exception):
    """The owner's gateway did not answer (or answered with an error)."""

    def __init__(self, msp_id: str, message: str) -> None:
        super().__init__(f"{msp_id}: {message}")
        self.msp_id = msp_id


@dataclass(frozen=True)
class MemberGateway:
    """Another retailer's gateway: its MSP id, HTTPS base URL, the CA root its TLS
    certificate chains to, and its organisation's CA root (its gateway identity)."""

    msp_id: str
    url: str
    tls_root: Path
    msp_root: Path


def signed_bytes(method: str, path: str, stamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join((method.upper(), path, stamp, nonce,
                      hashlib.sha256(body).hexdigest())).encode()


class MemberAuthenticator:
    """The owner's check of a reader's signed request (see the module docstring)."""

    def __init__(self, members: tuple[MemberGateway, ...]) -> None:
        self._roots: dict[str, x509.Certificate] = {
            m.msp_id: x509.load_pem_x509_certificate(m.msp_root.read_bytes()) for m in members}
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def verify(self, method: str, path: str, headers: Any, body: bytes) -> str:
        """The reader's MSP id; raises MemberAuthError."""
        try:
            pem = base64.b64decode(headers[CERT_HEADER], validate=True)
            signature = base64.b64decode(headers[SIGNATURE_HEADER], validate=True)
            stamp, nonce = headers[TIME_HEADER], headers[NONCE_HEADER]
            cert = x509.load_pem_x509_certificate(pem)
        except (KeyError, ValueError) as exc:
            raise MemberAuthError("MEMBER_UNAUTHENTICATED",
                                  "a member request needs its signed headers") from exc
        reader = self._issuer(cert)
        try:
            identity_from_creator(reader, pem).require_attribute(
                "prefshare.role", {"gateway"})
        except ChaincodeError as exc:
            raise MemberAuthError("MEMBER_FORBIDDEN",
                                  "the certificate is not a member gateway's") from exc
        public = cert.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise MemberAuthError("MEMBER_UNAUTHENTICATED", "not an ECDSA certificate")
        try:
            public.verify(signature, signed_bytes(method, path, stamp, nonce, body),
                          ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as exc:
            raise MemberAuthError("MEMBER_UNAUTHENTICATED", "bad request signature") from exc
        try:
            sent = datetime.fromisoformat(stamp).timestamp()
        except ValueError as exc:
            raise MemberAuthError("MEMBER_UNAUTHENTICATED", "bad request time") from exc
        now = time.time()
        if abs(now - sent) > MAX_SKEW_S:
            raise MemberAuthError("MEMBER_STALE", "the request time is too far from now")
        with self._lock:
            self._seen = {n: t for n, t in self._seen.items() if t > now - 2 * MAX_SKEW_S}
            if nonce in self._seen:
                raise MemberAuthError("MEMBER_REPLAYED", "this request was already served")
            self._seen[nonce] = now
        return reader

    def _issuer(self, cert: x509.Certificate) -> str:
        now = datetime.now(UTC)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise MemberAuthError("MEMBER_UNAUTHENTICATED", "the certificate is not valid now")
        for msp_id, root in self._roots.items():
            if cert.issuer != root.subject:
                continue
            key = root.public_key()
            if not isinstance(key, ec.EllipticCurvePublicKey):
                continue
            try:
                key.verify(cert.signature, cert.tbs_certificate_bytes,
                           ec.ECDSA(cert.signature_hash_algorithm or hashes.SHA256()))
            except InvalidSignature:
                continue
            return msp_id
        raise MemberAuthError("MEMBER_FORBIDDEN", "the certificate is not from a member's CA")


class MemberClient:
    """The reader's side: signed requests to every other member's gateway, in parallel."""

    def __init__(self, members: tuple[MemberGateway, ...], certificate_pem: bytes,
                 sign: Callable[[bytes], bytes], *, timeout_s: float) -> None:
        self.members = members
        self._cert = base64.b64encode(certificate_pem).decode()
        self._sign = sign
        self._clients = {
            m.msp_id: httpx.Client(base_url=m.url, timeout=timeout_s,
                                   verify=ssl.create_default_context(cafile=str(m.tls_root)))
            for m in members}
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(members)),
                                        thread_name_prefix="members")

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        for client in self._clients.values():
            client.close()

    def post(self, msp_id: str, path: str, body: dict[str, Any]) -> Any:
        """POST ``body`` to one member; its JSON answer. Raises MemberUnavailable."""
        data = json.dumps(body, separators=(",", ":")).encode()
        stamp = datetime.now(UTC).isoformat()
        nonce = base64.urlsafe_b64encode(os.urandom(18)).decode()
        headers = {
            "Content-Type": "application/json",
            CERT_HEADER: self._cert,
            TIME_HEADER: stamp,
            NONCE_HEADER: nonce,
            SIGNATURE_HEADER: base64.b64encode(
                self._sign(signed_bytes("POST", path, stamp, nonce, data))).decode(),
        }
        try:
            answer = self._clients[msp_id].post(path, content=data, headers=headers)
        except httpx.HTTPError as exc:
            raise MemberUnavailable(msp_id, type(exc).__name__) from exc
        if answer.status_code != 200:
            code = ""
            try:
                code = answer.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                pass
            raise MemberUnavailable(msp_id, f"HTTP {answer.status_code} {code}".strip())
        return answer.json()

    def post_all(self, path: str, body: dict[str, Any]
                 ) -> tuple[dict[str, Any], list[str]]:
        """The same request to every member: answers by MSP id, and who did not answer."""
        futures = {m.msp_id: self._pool.submit(self.post, m.msp_id, path, body)
                   for m in self.members}
        answers: dict[str, Any] = {}
        missing: list[str] = []
        for msp_id, future in futures.items():
            try:
                answers[msp_id] = future.result()
            except MemberUnavailable:
                missing.append(msp_id)
        return answers, missing
