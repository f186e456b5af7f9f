"""The hand-written RS256 and ES256 signatures (chalicelib/jws.py): RFC 6979's published P-256 vector,
and every signature verified by an independent implementation (joserfc, on `cryptography`)."""

from __future__ import annotations

import base64

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from chalicelib.channels.pull.credentials import es256_jwt, rs256_jwt
from chalicelib.jws import KeyInvalid, P256Key, RsaKey, es256_sign, public_point, rfc6979_nonces

# RFC 6979 A.2.5: P-256, SHA-256, message "sample".
RFC_X = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
RFC_UX = 0x60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6
RFC_UY = 0x7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299
RFC_K = 0xA6E3C57DD01ABE90086538398355DD4C3B17AA873382B0F24D6129493D8AAD60
RFC_R = "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
RFC_S = "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8"


def test_es256_matches_rfc_6979s_p256_vector():
    import hashlib

    key = P256Key(RFC_X)
    assert public_point(key) == (RFC_UX, RFC_UY)
    assert next(rfc6979_nonces(RFC_X, hashlib.sha256(b"sample").digest())) == RFC_K
    assert es256_sign(b"sample", key).hex() == RFC_R + RFC_S


@pytest.mark.parametrize("encoding", ["pkcs8", "sec1"])
def test_es256_tokens_verify_with_joserfc(encoding: str):
    key = ECKey.generate_key("P-256")
    pem = key.as_pem(private=True).decode()
    if encoding == "sec1":
        from cryptography.hazmat.primitives import serialization

        pem = key.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()
        assert "BEGIN EC PRIVATE KEY" in pem
    for n in range(5):
        token = es256_jwt({"kid": "K1", "typ": "JWT"}, {"n": n, "aud": "appstoreconnect-v1"}, pem)
        decoded = jwt.decode(token, key, algorithms=["ES256"])
        assert decoded.claims["n"] == n and decoded.header["alg"] == "ES256"
        assert len(base64.urlsafe_b64decode(token.split(".")[2] + "==")) == 64  # r‖s, as JWS wants


@pytest.mark.parametrize("bits", [2048, 3072])
def test_rs256_tokens_verify_with_joserfc(bits: int):
    key = RSAKey.generate_key(bits)
    pem = key.as_pem(private=True).decode()
    token = rs256_jwt({"typ": "JWT"}, {"iss": "svc@example.iam.gserviceaccount.com"}, pem)
    assert jwt.decode(token, key, algorithms=["RS256"]).claims["iss"].startswith("svc@")
    # PKCS#1 v1.5 is deterministic: the signature is byte for byte what `cryptography` makes of the input.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signing_input, _, signature = token.rpartition(".")
    expected = key.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    assert base64.urlsafe_b64decode(signature + "==") == expected
    assert RsaKey.from_pem(pem).n == key.private_key.private_numbers().public_numbers.n


@pytest.mark.parametrize(
    "pem",
    [
        "",
        "not a key",
        "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----",
        "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----",
    ],
)
def test_what_is_no_key_is_refused(pem: str):
    with pytest.raises(KeyInvalid):
        RsaKey.from_pem(pem)
    with pytest.raises(KeyInvalid):
        P256Key.from_pem(pem)


def test_a_key_of_the_other_kind_is_refused():
    with pytest.raises(KeyInvalid):
        P256Key.from_pem(RSAKey.generate_key(2048).as_pem(private=True).decode())
    with pytest.raises(KeyInvalid):
        RsaKey.from_pem(ECKey.generate_key("P-256").as_pem(private=True).decode())
    with pytest.raises(KeyInvalid):
        P256Key.from_pem(ECKey.generate_key("P-384").as_pem(private=True).decode())
