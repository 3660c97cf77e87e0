"""Who the client is: an MSP id and an X.509 certificate, and where they are on disk.

An :class:`Identity` is the small frozen value the official clients call an
``X509Identity``: the certificate is kept as the PEM bytes that go on the wire, so
what the peer sees as the transaction creator is exactly what was loaded.

``fabric-ca-client enroll -M <dir>`` writes an MSP folder::

    <dir>/signcerts/cert.pem        the enrolment certificate (PEM)
    <dir>/keystore/<hex>_sk         the private key (unencrypted PKCS#8 PEM)
    <dir>/cacerts/...               the issuing CA (not needed to sign)

Re-enrolment adds a key to ``keystore/`` without removing the old one, so
:func:`load_msp_folder` picks the key whose public half matches the certificate
rather than "the first file".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.fabric._protos import identities_pb2


class MspFolderError(ValueError):
    """An MSP folder lacks a certificate or key, or they do not belong together."""


@dataclass(frozen=True)
class Identity:
    """A client identity: MSP id and PEM certificate.

    >>> Identity("Org1MSP", pem_bytes).creator()   # msp.SerializedIdentity bytes

    Raises ValueError from the constructor when ``msp_id`` is empty or
    ``certificate`` is not a PEM X.509 certificate.
    """

    msp_id: str
    certificate: bytes

    def __post_init__(self) -> None:
        if not self.msp_id:
            raise ValueError("msp_id must not be empty")
        try:
            x509.load_pem_x509_certificate(self.certificate)
        except (ValueError, TypeError) as exc:
            raise ValueError("certificate must be a PEM X.509 certificate") from exc

    @classmethod
    def from_certificate(cls, msp_id: str, certificate: x509.Certificate) -> Identity:
        return cls(msp_id, certificate.public_bytes(serialization.Encoding.PEM))

    def x509_certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate)

    def creator(self) -> bytes:
        """The serialized ``msp.SerializedIdentity`` (signature header ``creator``)."""
        serialized = identities_pb2.SerializedIdentity(mspid=self.msp_id, id_bytes=self.certificate)
        data: bytes = serialized.SerializeToString()
        return data


@dataclass(frozen=True)
class MspCredentials:
    """What an enrolled MSP folder holds for signing: the identity and its private key."""

    identity: Identity
    private_key: ec.EllipticCurvePrivateKey


def _signing_certificate(signcerts: Path) -> Path:
    preferred = signcerts / "cert.pem"
    if preferred.is_file():
        return preferred
    candidates = sorted(p for p in signcerts.glob("*.pem") if p.is_file())
    if len(candidates) != 1:
        raise MspFolderError(
            f"{signcerts} must hold cert.pem or exactly one *.pem, found {len(candidates)}"
        )
    return candidates[0]


def _public_numbers(key: object) -> object:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_numbers()
    return None


def load_msp_folder(msp_dir: Path | str, msp_id: str) -> MspCredentials:
    """Load the enrolment certificate and its matching private key from an MSP folder.

    Only unencrypted EC keys are supported (what fabric-ca-client writes; the
    Fabric Gateway accepts P-256 and P-384).

    Raises MspFolderError when ``signcerts/`` or ``keystore/`` is missing, the
    certificate is unreadable or not EC, or no ``*_sk`` key matches the certificate.
    """
    root = Path(msp_dir)
    signcerts, keystore = root / "signcerts", root / "keystore"
    for folder in (signcerts, keystore):
        if not folder.is_dir():
            raise MspFolderError(f"MSP folder lacks {folder.name}/: {root}")
    cert_path = _signing_certificate(signcerts)
    cert_pem = cert_path.read_bytes()
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise MspFolderError(f"{cert_path} is not a PEM X.509 certificate") from exc
    wanted = _public_numbers(certificate.public_key())
    if wanted is None:
        raise MspFolderError(f"{cert_path} does not hold an EC public key")
    key_files = sorted(p for p in keystore.glob("*_sk") if p.is_file())
    for key_path in key_files:
        try:
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except (ValueError, TypeError):
            continue  # an unreadable or encrypted stray key; keep looking for the matching one
        if isinstance(key, ec.EllipticCurvePrivateKey) and (
            _public_numbers(key.public_key()) == wanted
        ):
            return MspCredentials(Identity(msp_id, cert_pem), key)
    raise MspFolderError(
        f"none of the {len(key_files)} *_sk files in {keystore} matches {cert_path.name}"
    )
