"""The hand-written RS256 signer (chalicelib/jws.py) produces exactly the signatures `cryptography`
does (PKCS#1 v1.5 is deterministic), from PKCS#8 and PKCS#1 PEM keys, and refuses what is not one."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from chalicelib import jws


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key, private_format=serialization.PrivateFormat.PKCS8, encryption=None) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, private_format, encryption or serialization.NoEncryption()
    ).decode()


@pytest.mark.parametrize(
    "private_format", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL]
)
def test_signatures_equal_cryptographys_and_verify(key, private_format):
    message = b"header.claims"
    signature = jws.rs256_sign(message, jws.RsaKey.from_pem(pem(key, private_format)))
    assert signature == key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    key.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    assert jws.rs256_sign(b"other", jws.RsaKey.from_pem(pem(key))) != signature


def test_what_is_not_an_unencrypted_rsa_key_is_refused(key):
    encrypted = pem(key, encryption=serialization.BestAvailableEncryption(b"pw"))
    ec_key = ec.generate_private_key(ec.SECP256R1())
    for text in (
        "hello",
        "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----",
        encrypted,
        pem(ec_key),
    ):
        with pytest.raises(ValueError):
            jws.rs256_sign(b"x", jws.RsaKey.from_pem(text))
