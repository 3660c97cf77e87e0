import dataclasses

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.msp import identities_pb2

from gateway.fabric.identity import Identity, MspFolderError, load_msp_folder


def _pem_key(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _msp_folder(root, creds, *, extra_keys=(), cert_name="cert.pem"):
    """The layout fabric-ca-client enroll -M writes (plus optional stale keys)."""
    (root / "signcerts").mkdir(parents=True)
    (root / "keystore").mkdir()
    (root / "cacerts").mkdir()
    (root / "signcerts" / cert_name).write_bytes(creds.identity.certificate)
    for i, key in enumerate(extra_keys):
        (root / "keystore" / f"{i:064x}_sk").write_bytes(_pem_key(key))
    (root / "keystore" / f"{'ab' * 32}_sk").write_bytes(_pem_key(creds.key))
    (root / "cacerts" / "localhost-7054-ca-org1.pem").write_bytes(creds.identity.certificate)
    return root


def test_creator_is_serialized_identity_with_msp_id_and_pem(org1):
    decoded = identities_pb2.SerializedIdentity.FromString(org1.identity.creator())

    assert decoded.mspid == "Org1MSP"
    assert decoded.id_bytes == org1.identity.certificate
    assert decoded.id_bytes.startswith(b"-----BEGIN CERTIFICATE-----")


def test_identity_is_frozen(org1):
    with pytest.raises(dataclasses.FrozenInstanceError):
        org1.identity.msp_id = "Org2MSP"  # type: ignore[misc]


def test_identity_refuses_empty_msp_id_and_non_pem_certificate(org1):
    with pytest.raises(ValueError, match="msp_id"):
        Identity("", org1.identity.certificate)
    with pytest.raises(ValueError, match="PEM"):
        Identity("Org1MSP", b"not a certificate")


def test_msp_folder_loads_certificate_and_matching_key(tmp_path, org1):
    folder = _msp_folder(tmp_path / "msp", org1)

    creds = load_msp_folder(folder, "Org1MSP")

    assert creds.identity == org1.identity
    assert creds.private_key.private_numbers() == org1.key.private_numbers()


def test_msp_folder_with_stale_keys_picks_the_one_matching_the_certificate(tmp_path, org1):
    stale = [ec.generate_private_key(ec.SECP256R1()) for _ in range(3)]
    folder = _msp_folder(tmp_path / "msp", org1, extra_keys=stale)

    creds = load_msp_folder(str(folder), "Org1MSP")

    assert creds.private_key.private_numbers() == org1.key.private_numbers()


def test_msp_folder_with_cryptogen_style_certificate_name_loads(tmp_path, org1):
    folder = _msp_folder(tmp_path / "msp", org1, cert_name="User1@org1-cert.pem")

    assert load_msp_folder(folder, "Org1MSP").identity == org1.identity


def test_msp_folder_without_matching_key_is_refused(tmp_path, org1, make_credentials):
    other = make_credentials()
    folder = _msp_folder(tmp_path / "msp", org1)
    for path in (folder / "keystore").iterdir():
        path.write_bytes(_pem_key(other.key))

    with pytest.raises(MspFolderError, match="matches"):
        load_msp_folder(folder, "Org1MSP")


def test_msp_folder_without_keystore_is_refused(tmp_path, org1):
    folder = _msp_folder(tmp_path / "msp", org1)
    for path in (folder / "keystore").iterdir():
        path.unlink()
    (folder / "keystore").rmdir()

    with pytest.raises(MspFolderError, match="keystore"):
        load_msp_folder(folder, "Org1MSP")


def test_msp_folder_with_garbage_certificate_is_refused(tmp_path, org1):
    folder = _msp_folder(tmp_path / "msp", org1)
    (folder / "signcerts" / "cert.pem").write_bytes(b"garbage")

    with pytest.raises(MspFolderError, match="not a PEM"):
        load_msp_folder(folder, "Org1MSP")
