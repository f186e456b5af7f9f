"""RS256 and ES256 JWS signatures (RFC 7515/7518) and compact JWTs in pure Python: what the Google
service-account grant, the App Store Connect API and Salesforce's JWT bearer flow need, and nothing more.

Written here rather than taken from a library on purpose: `cryptography` (what PyJWT, joserfc and
google-auth sign with) adds ~17 MB to the one package every function shares, and the pure-Python `rsa` and
`ecdsa` with their dependencies ~2.5 MB; either pushes the export function (which also loads the AWS SDK
for pandas layer) past its size headroom (tests/test_infra_packaging.py). The algorithms are the textbook
ones, and each is checked by tests against published vectors (RFC 6979 A.2.5) and an independent
implementation (joserfc verifies every token the fakes accept):

- RS256: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2, EMSA-PKCS1-v1_5 §9.2), s = m^d mod n.
- ES256: ECDSA on P-256 with SHA-256, the nonce derived deterministically from the key and the message
  (RFC 6979 §3.2: no random number generator to get wrong), the signature as r‖s, 32 bytes each (RFC 7518
  §3.4).

Neither is constant-time (Python integers are not): acceptable here because signing happens inside our own
function a few times an hour, on nothing an outsider chooses, so nobody can time it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# DigestInfo's DER prefix for SHA-256 (RFC 8017 §9.2, note 1).
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
# P-256 (secp256r1), SEC 2 §2.4.2 / FIPS 186-4 D.1.2.3.
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
A = P - 3
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
G = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)
P256_OID = bytes.fromhex("2a8648ce3d030107")  # 1.2.840.10045.3.1.7
SEQUENCE, INTEGER, OCTET_STRING, OBJECT_ID = 0x30, 0x02, 0x04, 0x06


class KeyInvalid(ValueError):
    """A PEM that is not a key of the expected kind."""


def _der(data: bytes, offset: int = 0) -> tuple[int, bytes, int]:
    """One DER element at `offset`: (tag, contents, offset after it)."""
    if offset + 2 > len(data):
        raise KeyInvalid("truncated DER")
    tag, length = data[offset], data[offset + 1]
    offset += 2
    if length & 0x80:
        size = length & 0x7F
        if size == 0 or size > 4 or offset + size > len(data):
            raise KeyInvalid("bad DER length")
        length = int.from_bytes(data[offset : offset + size], "big")
        offset += size
    if offset + length > len(data):
        raise KeyInvalid("truncated DER")
    return tag, data[offset : offset + length], offset + length


def _elements(sequence: bytes) -> list[tuple[int, bytes]]:
    elements, offset = [], 0
    while offset < len(sequence):
        tag, contents, offset = _der(sequence, offset)
        elements.append((tag, contents))
    return elements


def _sequence(data: bytes) -> list[tuple[int, bytes]]:
    tag, contents, _ = _der(data)
    if tag != SEQUENCE:
        raise KeyInvalid("expected a SEQUENCE")
    return _elements(contents)


def _pem_der(pem: str) -> tuple[str, bytes]:
    """(label, DER) of a PEM block: "PRIVATE KEY" (PKCS#8), "RSA PRIVATE KEY", "EC PRIVATE KEY"."""
    lines = [line.strip() for line in pem.strip().splitlines() if line.strip()]
    if len(lines) < 3 or not lines[0].startswith("-----BEGIN ") or not lines[-1].startswith("-----END "):
        raise KeyInvalid("not a PEM block")
    label = lines[0].removeprefix("-----BEGIN ").removesuffix("-----")
    try:
        return label, base64.b64decode("".join(lines[1:-1]), validate=True)
    except ValueError as error:
        raise KeyInvalid("not base64") from error


def _pkcs8_key(der: bytes) -> tuple[bytes, bytes]:
    """PrivateKeyInfo {version, AlgorithmIdentifier, privateKey}: (the algorithm's DER, the inner key)."""
    elements = _sequence(der)
    if len(elements) < 3 or elements[1][0] != SEQUENCE or elements[2][0] != OCTET_STRING:
        raise KeyInvalid("not a PKCS#8 PrivateKeyInfo")
    return elements[1][1], elements[2][1]


@dataclass(frozen=True)
class RsaKey:
    n: int
    d: int

    @classmethod
    def from_pem(cls, pem: str) -> RsaKey:
        label, der = _pem_der(pem)
        if label == "PRIVATE KEY":
            _, der = _pkcs8_key(der)
        elif label != "RSA PRIVATE KEY":
            raise KeyInvalid(f"not an RSA private key: {label}")
        # RSAPrivateKey {version, n, e, d, p, q, dp, dq, qinv} (RFC 8017 A.1.2)
        numbers = [int.from_bytes(contents, "big") for tag, contents in _sequence(der) if tag == INTEGER]
        if len(numbers) < 4 or numbers[1] < 2**1023:
            raise KeyInvalid("not an RSA key of 2048 bits or more")
        return cls(n=numbers[1], d=numbers[3])


def rs256_sign(message: bytes, key: RsaKey) -> bytes:
    """RSASSA-PKCS1-v1_5 over SHA-256: the signature, as long as the modulus."""
    size = (key.n.bit_length() + 7) // 8
    encoded_digest = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    padding = b"\xff" * (size - len(encoded_digest) - 3)
    encoded = b"\x00\x01" + padding + b"\x00" + encoded_digest
    return pow(int.from_bytes(encoded, "big"), key.d, key.n).to_bytes(size, "big")


@dataclass(frozen=True)
class P256Key:
    secret: int

    @classmethod
    def from_pem(cls, pem: str) -> P256Key:
        label, der = _pem_der(pem)
        if label == "PRIVATE KEY":
            algorithm, der = _pkcs8_key(der)
            if P256_OID not in algorithm:
                raise KeyInvalid("not a P-256 key")
        elif label != "EC PRIVATE KEY":
            raise KeyInvalid(f"not an EC private key: {label}")
        # ECPrivateKey {version 1, privateKey OCTET STRING, [0] parameters, [1] publicKey} (RFC 5915)
        elements = _sequence(der)
        if len(elements) < 2 or elements[1][0] != OCTET_STRING:
            raise KeyInvalid("not an ECPrivateKey")
        parameters = [contents for tag, contents in elements[2:] if tag == 0xA0]
        if parameters and P256_OID not in parameters[0]:
            raise KeyInvalid("not a P-256 key")
        secret = int.from_bytes(elements[1][1], "big")
        if not 1 <= secret < N:
            raise KeyInvalid("the private key is out of range")
        return cls(secret)


Point = tuple[int, int] | None  # None: the point at infinity


def _add(first: Point, second: Point) -> Point:
    if first is None:
        return second
    if second is None:
        return first
    (x1, y1), (x2, y2) = first, second
    if x1 == x2 and (y1 + y2) % P == 0:
        return None
    if first == second:
        slope = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (slope * slope - x1 - x2) % P
    return x3, (slope * (x1 - x3) - y1) % P


def _multiply(scalar: int, point: Point) -> Point:
    result: Point = None
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def public_point(key: P256Key) -> tuple[int, int]:
    point = _multiply(key.secret, G)
    if point is None:  # 1 ≤ secret < N: never the point at infinity
        raise KeyInvalid("the private key is out of range")
    return point


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def rfc6979_nonces(secret: int, digest: bytes) -> Iterator[int]:
    """The deterministic nonces of RFC 6979 §3.2 for P-256 and SHA-256 (qlen = hlen = 256 bits)."""
    private = secret.to_bytes(32, "big")
    reduced = (int.from_bytes(digest, "big") % N).to_bytes(32, "big")  # bits2octets(h1)
    v, k = b"\x01" * 32, b"\x00" * 32
    k = _hmac(k, v + b"\x00" + private + reduced)
    v = _hmac(k, v)
    k = _hmac(k, v + b"\x01" + private + reduced)
    v = _hmac(k, v)
    while True:
        v = _hmac(k, v)
        candidate = int.from_bytes(v, "big")
        if 1 <= candidate < N:
            yield candidate
        k = _hmac(k, v + b"\x00")
        v = _hmac(k, v)


def es256_sign(message: bytes, key: P256Key) -> bytes:
    """ECDSA P-256 over SHA-256 with RFC 6979 nonces: r‖s, 32 bytes each."""
    digest = hashlib.sha256(message).digest()
    e = int.from_bytes(digest, "big")
    for nonce in rfc6979_nonces(key.secret, digest):
        point = _multiply(nonce, G)
        r = point[0] % N if point else 0
        s = pow(nonce, -1, N) * (e + r * key.secret) % N
        if r and s:
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    raise AssertionError("unreachable")  # pragma: no cover


# Compact JWTs (RFC 7519): base64url JSON header and claims, then the signature of both.
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signing_input(header: dict[str, Any], claims: dict[str, Any]) -> bytes:
    parts = (json.dumps(part, separators=(",", ":")).encode() for part in (header, claims))
    return ".".join(b64url(part) for part in parts).encode()


def rs256_jwt(header: dict[str, Any], claims: dict[str, Any], private_key_pem: str) -> str:
    signed = signing_input({**header, "alg": "RS256"}, claims)
    return f"{signed.decode()}.{b64url(rs256_sign(signed, RsaKey.from_pem(private_key_pem)))}"


def es256_jwt(header: dict[str, Any], claims: dict[str, Any], private_key_pem: str) -> str:
    signed = signing_input({**header, "alg": "ES256"}, claims)
    return f"{signed.decode()}.{b64url(es256_sign(signed, P256Key.from_pem(private_key_pem)))}"
