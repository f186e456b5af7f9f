"""RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 8017 §8.2.1) signatures for the Salesforce JWT bearer flow's
assertion, from a PEM RSA private key (PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY", unencrypted).

Written by hand on purpose: `cryptography` (or PyJWT on top of it) would add about 17 MB to every Lambda
function's package, which pushes the nightly export with its pandas layer past the size budget
(tests/test_infra_packaging.py), for one signature per login. Signing needs only a DER reader, the EMSA
encoding and Python's modular exponentiation; the tests verify these signatures with `cryptography`. The
signing runs in our own function on our own key material, so pow()'s timing is nobody's measurement.
"""

from __future__ import annotations

import base64
import hashlib
import re

# DER of DigestInfo for SHA-256 (RFC 8017 §9.2, note 1), followed by the 32-byte digest.
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
RSA_ENCRYPTION_OID = bytes.fromhex("2a864886f70d010101")
PEM = re.compile(r"-----BEGIN (RSA )?PRIVATE KEY-----(.+?)-----END (?:RSA )?PRIVATE KEY-----", re.DOTALL)


class UnreadableKey(ValueError):
    """The text is not an unencrypted PEM RSA private key."""


def _read(der: bytes, at: int) -> tuple[int, bytes, int]:
    """One DER element at `at`: (tag, value, where the next element starts)."""
    if at + 2 > len(der):
        raise UnreadableKey("truncated DER")
    tag, length, at = der[at], der[at + 1], at + 2
    if length & 0x80:
        size = length & 0x7F
        if not 1 <= size <= 4 or at + size > len(der):
            raise UnreadableKey("bad DER length")
        length, at = int.from_bytes(der[at : at + size], "big"), at + size
    if at + length > len(der):
        raise UnreadableKey("truncated DER")
    return tag, der[at : at + length], at + length


def _sequence(der: bytes) -> list[tuple[int, bytes]]:
    tag, body, _ = _read(der, 0)
    if tag != 0x30:
        raise UnreadableKey("not a DER SEQUENCE")
    elements, at = [], 0
    while at < len(body):
        element_tag, value, at = _read(body, at)
        elements.append((element_tag, value))
    return elements


def private_key(pem: str) -> tuple[int, int]:
    """(modulus n, private exponent d) of a PEM RSA private key."""
    match = PEM.search(pem)
    if not match:
        raise UnreadableKey("not a PEM RSA private key (an encrypted key must be decrypted first)")
    try:
        der = base64.b64decode("".join(match.group(2).split()), validate=True)
    except ValueError as error:
        raise UnreadableKey("the PEM body is not base64") from error
    if not match.group(1):  # PKCS#8: version, AlgorithmIdentifier (rsaEncryption), OCTET STRING
        elements = _sequence(der)
        if len(elements) < 3 or elements[2][0] != 0x04 or RSA_ENCRYPTION_OID not in elements[1][1]:
            raise UnreadableKey("not an RSA key")
        der = elements[2][1]
    integers = [value for tag, value in _sequence(der) if tag == 0x02]
    if len(integers) < 4:
        raise UnreadableKey("not an RSA private key")
    return int.from_bytes(integers[1], "big"), int.from_bytes(integers[3], "big")


def sign(message: bytes, pem: str) -> bytes:
    """The RS256 signature of `message` (EMSA-PKCS1-v1_5 encoding, then m^d mod n)."""
    modulus, exponent = private_key(pem)
    size = (modulus.bit_length() + 7) // 8
    digest_info = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    if size < len(digest_info) + 11:
        raise UnreadableKey("the RSA key is too short")
    encoded = b"\x00\x01" + b"\xff" * (size - len(digest_info) - 3) + b"\x00" + digest_info
    return pow(int.from_bytes(encoded, "big"), exponent, modulus).to_bytes(size, "big")
