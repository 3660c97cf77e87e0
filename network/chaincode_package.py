"""Chaincode-as-a-service packages: the file a peer installs, and its package id.

A lifecycle package is a gzip'd tar holding ``metadata.json`` (``type``, ``label``) and
``code.tar.gz``; for chaincode as a service, ``code.tar.gz`` holds one ``connection.json``
saying where the chaincode server listens and how to reach it over TLS (the format Fabric's
peer reads; Fabric's "Chaincode as an external service" and "External Builders and
Launchers" documents). The builder that hands it to the peer is network/ccaas-builder.

The peer names an installed package ``<label>:<hex SHA-256 of the package file>``, so the
bytes are made reproducible (fixed order, owner, modes and times; gzip without a timestamp):
packaging the same connection twice gives the same package id, and a redeploy that changes
nothing installs nothing new. Written here with the standard library's tarfile and gzip
rather than ``peer lifecycle chaincode package``: Fabric 2.1's CLI packages only source
chaincode (it has no ``ccaas`` type and writes file times), and the format is two small
archives.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

#: metadata.json's type for chaincode as a service; network/ccaas-builder claims it.
PACKAGE_TYPE = "ccaas"
#: Fabric's rule for package labels.
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
#: A package is a few kilobytes of JSON; anything far larger is not ours.
MAX_PACKAGE_BYTES = 1 << 20


class PackageError(ValueError):
    """A package (or what it is made of) is malformed; the message says what."""


class Connection(BaseModel):
    """``connection.json``: how the peer dials its organisation's chaincode server.

    TLS is required (the model refuses ``tls_required: false``), and the server asks the peer
    for a client certificate: ``client_cert``/``client_key`` are the peer's TLS pair,
    ``root_cert`` the CA that issued the server's certificate.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: Annotated[str, Field(pattern=r"^[^\s:]+:[0-9]{1,5}$")]
    #: Short: a launch that cannot connect holds the peer's ledger lock until it gives up.
    dial_timeout: Annotated[str, Field(pattern=r"^[0-9]+(ms|s|m)$")] = "3s"
    tls_required: Literal[True] = True
    client_auth_required: bool = True
    client_key: str = ""
    client_cert: str = ""
    root_cert: Annotated[str, Field(pattern=r"-----BEGIN CERTIFICATE-----")]

    @model_validator(mode="after")
    def _client_pair(self) -> Connection:
        if self.client_auth_required and not (
            "BEGIN CERTIFICATE" in self.client_cert and "PRIVATE KEY" in self.client_key
        ):
            raise ValueError("client_auth_required needs client_cert and client_key (PEM)")
        return self


def _tar_gz(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A reproducible gzip'd tar of ``name -> (content, mode)``, in name order."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            content, mode = files[name]
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), mode, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


def build_package(label: str, connection: Connection) -> bytes:
    """The package's bytes. Raises PackageError for a label Fabric would refuse."""
    if not LABEL.fullmatch(label):
        raise PackageError(f"label {label!r} does not match {LABEL.pattern}")
    conn = json.dumps(connection.model_dump(), indent=2, sort_keys=True).encode()
    code = _tar_gz({"connection.json": (conn, 0o600)})
    metadata = json.dumps({"label": label, "path": "", "type": PACKAGE_TYPE},
                          sort_keys=True).encode()
    return _tar_gz({"code.tar.gz": (code, 0o600), "metadata.json": (metadata, 0o644)})


def package_id(label: str, package: bytes) -> str:
    """The id the peer gives the installed package: ``<label>:<sha256 hex>``."""
    return f"{label}:{hashlib.sha256(package).hexdigest()}"


def _members(data: bytes, what: str) -> dict[str, bytes]:
    """Regular files of a gzip'd tar; anything else (links, devices, paths leaving the root,
    duplicates) is refused, as the peer does."""
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for info in tar:
                if info.isdir():
                    continue
                if not info.isfile() or info.name.startswith("/") or ".." in info.name.split("/"):
                    raise PackageError(f"{what}: entry {info.name!r} is not a plain file")
                if info.name in out:
                    raise PackageError(f"{what}: entry {info.name!r} appears twice")
                extracted = tar.extractfile(info)
                assert extracted is not None  # a regular file always has content
                out[info.name] = extracted.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise PackageError(f"{what}: not a gzip'd tar ({exc})") from None
    return out


def read_package(package: bytes) -> tuple[str, Connection]:
    """The label and connection of a package made by :func:`build_package`.

    Raises PackageError naming what is wrong (size, archive, metadata, connection).
    """
    if len(package) > MAX_PACKAGE_BYTES:
        raise PackageError(f"package is over {MAX_PACKAGE_BYTES} bytes")
    outer = _members(package, "package")
    if set(outer) != {"metadata.json", "code.tar.gz"}:
        raise PackageError(f"package holds {sorted(outer)}, not metadata.json and code.tar.gz")
    try:
        metadata = json.loads(outer["metadata.json"])
        label, kind = metadata["label"], metadata["type"]
    except (ValueError, KeyError, TypeError):
        raise PackageError("metadata.json: not an object with label and type") from None
    if kind != PACKAGE_TYPE or not isinstance(label, str) or not LABEL.fullmatch(label):
        raise PackageError(f"metadata.json: type {kind!r}, label {label!r} is not a ccaas package")
    code = _members(outer["code.tar.gz"], "code.tar.gz")
    if set(code) != {"connection.json"}:
        raise PackageError(f"code.tar.gz holds {sorted(code)}, not connection.json")
    try:
        return label, Connection.model_validate_json(code["connection.json"])
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PackageError(f"connection.json: {where}: {first['msg']}") from None
