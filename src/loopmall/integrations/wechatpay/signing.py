"""WeChat Pay API v3 signatures and AEAD, as the protocol defines them.

The adapter signs and verifies through ``wechatpayv3``; these are our own implementations of
the same rules, used by the stand-in (the server side of the protocol), by the adapter's extra
callback checks, and pinned by tests/conformance against Tencent's published vectors.
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
_AUTH_PAIR = re.compile(r'\s*([a-z_]+)="([^"]*)"\s*')


def request_signing_string(
    method: str, canonical_url: str, timestamp: str, nonce: str, body: str
) -> str:
    """Five lines, each ending in ``\\n``: the string a merchant signs for a request."""
    return f"{method}\n{canonical_url}\n{timestamp}\n{nonce}\n{body}\n"


def response_signing_string(timestamp: str, nonce: str, body: str) -> str:
    """Three lines, each ending in ``\\n``: what WeChat signs for answers and callbacks."""
    return f"{timestamp}\n{nonce}\n{body}\n"


@lru_cache(maxsize=128)
def _private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


@lru_cache(maxsize=128)
def _public_key(pem: str) -> rsa.RSAPublicKey:
    data = pem.encode()
    key: object
    if b"BEGIN CERTIFICATE" in data:
        key = x509.load_pem_x509_certificate(data).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def rsa_sign(private_key_pem: str, message: str) -> str:
    """base64(SHA256withRSA PKCS#1 v1.5) of the UTF-8 message."""
    sig = _private_key(private_key_pem).sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(sig).decode()


def rsa_verify(public_key_pem: str, message: str, signature_b64: str) -> bool:
    """True only for a valid SHA256withRSA signature; a malformed one is simply invalid."""
    try:
        sig = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        _public_key(public_key_pem).verify(
            sig, message.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        return False
    return True


def aead_encrypt(key: str, nonce: str, associated_data: str, plaintext: str) -> str:
    """AEAD_AES_256_GCM as in callbacks: base64(ciphertext || 16-byte tag)."""
    ct = AESGCM(key.encode()).encrypt(nonce.encode(), plaintext.encode(), associated_data.encode())
    return base64.b64encode(ct).decode()


def aead_decrypt(key: str, nonce: str, associated_data: str, ciphertext_b64: str) -> str:
    """Inverse of :func:`aead_encrypt`. Raises ``ValueError`` on a wrong key or tampering."""
    try:
        data = base64.b64decode(ciphertext_b64, validate=True)
        plain = AESGCM(key.encode()).decrypt(nonce.encode(), data, associated_data.encode())
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise ValueError("resource does not decrypt") from exc
    return plain.decode()


def authorization_header(
    *, mchid: str, serial_no: str, nonce: str, timestamp: str, signature: str
) -> str:
    return (
        f'{SIGNATURE_TYPE} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def parse_authorization(header: str) -> dict[str, str]:
    """The key=value pairs of an ``Authorization`` header. Raises ``ValueError`` if malformed."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme != SIGNATURE_TYPE:
        raise ValueError("unknown authorization scheme")
    pairs: dict[str, str] = {}
    for part in rest.split(","):
        m = _AUTH_PAIR.fullmatch(part)
        if not m or m.group(1) in pairs:
            raise ValueError("malformed authorization")
        pairs[m.group(1)] = m.group(2)
    missing = {"mchid", "nonce_str", "signature", "timestamp", "serial_no"} - pairs.keys()
    if missing:
        raise ValueError(f"authorization lacks {sorted(missing)}")
    return pairs
