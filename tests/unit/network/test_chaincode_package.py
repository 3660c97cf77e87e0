"""Chaincode-as-a-service packages: format, reproducible bytes, package ids, refusals."""

import gzip
import hashlib
import io
import json
import tarfile

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from network.chaincode_package import (
    Connection,
    PackageError,
    build_package,
    package_id,
    read_package,
)

CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
# A throwaway key made per run (the package checks only that PEM blocks are there).
KEY = ec.generate_private_key(ec.SECP256R1()).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption()).decode()


def _connection(**changes) -> Connection:
    values = {"address": "127.0.0.1:7160", "client_cert": CERT, "client_key": KEY,
              "root_cert": CERT, **changes}
    return Connection(**values)


def _tar_gz(entries: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for info, content in entries:
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue())


def _file(name: str, content: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), content


def test_package_holds_metadata_and_code_with_the_connection():
    data = build_package("prefshare_1.0", _connection())
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as outer:
        assert sorted(outer.getnames()) == ["code.tar.gz", "metadata.json"]
        metadata = json.load(outer.extractfile("metadata.json"))
        code = outer.extractfile("code.tar.gz").read()
    assert metadata == {"label": "prefshare_1.0", "path": "", "type": "ccaas"}
    with tarfile.open(fileobj=io.BytesIO(code), mode="r:gz") as inner:
        assert inner.getnames() == ["connection.json"]
        info = inner.getmember("connection.json")
        connection = json.load(inner.extractfile(info))
    # The connection carries the peer's TLS key: owner-only inside the archive too.
    assert info.mode == 0o600
    assert connection["address"] == "127.0.0.1:7160"
    assert connection["tls_required"] is True and connection["client_auth_required"] is True
    assert read_package(data) == ("prefshare_1.0", _connection())


def test_same_inputs_give_the_same_bytes_and_package_id():
    first = build_package("prefshare_1.0", _connection())
    second = build_package("prefshare_1.0", _connection())
    assert first == second
    assert package_id("prefshare_1.0", first) == (
        "prefshare_1.0:" + hashlib.sha256(first).hexdigest())
    other = build_package("prefshare_1.0", _connection(address="127.0.0.1:7260"))
    assert package_id("prefshare_1.0", other) != package_id("prefshare_1.0", first)


@pytest.mark.parametrize("label", ["", "_x", "prefshare 1.0", "prefshare:1.0", "ü"])
def test_labels_fabric_refuses_are_refused(label):
    with pytest.raises(PackageError, match="label"):
        build_package(label, _connection())


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"tls_required": False}, "tls_required"),
        ({"address": "127.0.0.1"}, "address"),
        ({"address": "host name:7160"}, "address"),
        ({"dial_timeout": "soon"}, "dial_timeout"),
        ({"root_cert": ""}, "root_cert"),
        ({"client_key": ""}, "client_key"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_connections_without_tls_or_with_bad_fields_are_refused(changes, field):
    with pytest.raises(ValueError, match=field):
        _connection(**changes)


def test_a_server_only_tls_connection_needs_no_client_pair():
    conn = Connection(address="127.0.0.1:7160", root_cert=CERT, client_auth_required=False)
    assert read_package(build_package("prefshare_1.0", conn))[1] == conn


def _package(metadata: dict, code_entries: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    return _tar_gz([_file("metadata.json", json.dumps(metadata).encode()),
                    _file("code.tar.gz", _tar_gz(code_entries))])


GOOD_METADATA = {"label": "prefshare_1.0", "path": "", "type": "ccaas"}
GOOD_CONN = json.dumps(_connection().model_dump()).encode()


def _link(name: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    return info, b""


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not a gzip file", "not a gzip'd tar"),
        (b"\x00" * (1 << 20 + 1), "over"),
        (_package({**GOOD_METADATA, "type": "golang"}, [_file("connection.json", GOOD_CONN)]),
         "not a ccaas package"),
        (_package(GOOD_METADATA, [_file("connection.json", GOOD_CONN), _file("x.sh", b"")]),
         "not connection.json"),
        (_package(GOOD_METADATA, [_file("../connection.json", GOOD_CONN)]), "not a plain file"),
        (_package(GOOD_METADATA, [_link("connection.json")]), "not a plain file"),
        (_package(GOOD_METADATA, [_file("connection.json", b'{"address": 1}')]),
         "connection.json: address"),
        (_tar_gz([_file("metadata.json", b"[]")]), "not metadata.json and code.tar.gz"),
    ],
    ids=["not-gzip", "oversized", "other-type", "extra-file", "traversal", "symlink",
         "bad-connection", "no-code"],
)
def test_malformed_packages_are_refused_with_a_reason(data, reason):
    with pytest.raises(PackageError, match=reason):
        read_package(data)
