"""The store credentials' life cycle in the gateway's SQLite database (a real file)."""

from __future__ import annotations

import sqlite3
import stat
import time
from datetime import UTC, datetime, timedelta

import pytest

from gateway.stores import CredentialStore, Role, key_id_of


@pytest.fixture
def store(tmp_path) -> CredentialStore:
    return CredentialStore(tmp_path / "gateway.sqlite3")


def test_the_database_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "gateway.sqlite3"
    path.write_bytes(b"")
    path.chmod(0o644)
    CredentialStore(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_credential_works_until_it_expires(store):
    credential = store.issue("berlin-1", lifetime=timedelta(seconds=1))
    principal = store.authenticate(credential)
    assert principal is not None and principal.store_id == "berlin-1"
    time.sleep(1.1)
    assert store.authenticate(credential) is None
    assert store.entries()[0].status(datetime.now(UTC)) == "expired"


def test_a_revoked_credential_is_refused_and_listed_without_its_secret(store):
    credential = store.issue("berlin-1")
    assert store.revoke(key_id_of(credential)) and not store.revoke(key_id_of(credential))
    assert store.authenticate(credential) is None
    (info,) = store.entries(store_id="berlin-1")
    assert info.revoked_at is not None and credential.split(".")[1] not in repr(info)


def test_rotation_keeps_the_old_credential_for_the_grace_only(store):
    old = store.issue("berlin-1", Role.ADMIN)
    new = store.rotate(key_id_of(old), grace=timedelta(seconds=1))
    assert new is not None and store.authenticate(new).role is Role.ADMIN  # type: ignore[union-attr]
    assert store.authenticate(old) is not None
    time.sleep(1.1)
    assert store.authenticate(old) is None
    assert store.get(key_id_of(old)).replaced_by == key_id_of(new)  # type: ignore[union-attr]
    assert store.rotate(key_id_of(old)) is None  # ended: nothing to rotate


def test_rotation_without_grace_ends_the_old_credential_at_once(store):
    old = store.issue("berlin-1")
    assert store.rotate(key_id_of(old)) is not None
    assert store.authenticate(old) is None


def test_credentials_issued_before_expiry_existed_get_the_default_lifetime(tmp_path):
    path = tmp_path / "gateway.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE store_credentials (key_id TEXT PRIMARY KEY, store_id TEXT "
                   "NOT NULL, role TEXT NOT NULL, secret_sha256 BLOB NOT NULL, issued_at TEXT "
                   "NOT NULL, revoked_at TEXT)")
    store = CredentialStore(path)
    credential = store.issue("berlin-1")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE store_credentials SET expires_at = NULL")
    store = CredentialStore(path)  # a restart upgrades the rows
    assert store.authenticate(credential) is not None


def test_bad_store_ids_and_lifetimes_are_refused(store):
    with pytest.raises(ValueError):
        store.issue("no spaces")
    with pytest.raises(ValueError):
        store.issue("berlin-1", lifetime=timedelta(0))
