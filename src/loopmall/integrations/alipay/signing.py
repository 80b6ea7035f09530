"""Alipay RSA2 over the classic gateway protocol, as Alipay defines it.

The adapter signs and verifies through ``python-alipay-sdk``; these are our own
implementations of the same rules for the stand-in (Alipay's side) and the conformance tests.
"""

from __future__ import annotations

import base64
import json
import re
import textwrap
from collections.abc import Mapping
from typing import Any

from loopmall.core.money import format_yuan, parse_yuan
from loopmall.integrations.wechatpay.signing import rsa_sign, rsa_verify

__all__ = [
    "content_to_sign",
    "fen_to_yuan",
    "pem_from_der_b64",
    "response_text",
    "rsa_sign",
    "rsa_verify",
    "signed_response",
    "yuan_to_fen",
]

_YUAN = re.compile(r"\d{1,10}(\.\d{1,2})?")


def content_to_sign(params: Mapping[str, str], *, exclude: tuple[str, ...] = ("sign",)) -> str:
    """Sorted ``k=v`` joined by ``&``, raw values, empty values dropped.

    Requests: exclude ``sign`` only (``sign_type`` is signed). Notifies: exclude both
    ``sign`` and ``sign_type``.
    """
    items = sorted((k, v) for k, v in params.items() if k not in exclude and v != "")
    return "&".join(f"{k}={v}" for k, v in items)


def response_text(inner: Mapping[str, Any]) -> str:
    """The compact JSON text of a ``*_response`` object, exactly as signed and sent."""
    return json.dumps(inner, ensure_ascii=False, separators=(",", ":"))


def signed_response(method: str, inner: Mapping[str, Any], alipay_private_key_pem: str) -> str:
    """``{"<method>_response":{...},"sign":"..."}``, the sign after the object it covers."""
    key = "error_response" if method == "error" else method.replace(".", "_") + "_response"
    text = response_text(inner)
    sign = rsa_sign(alipay_private_key_pem, text)
    return f'{{"{key}":{text},"sign":"{sign}"}}'


def fen_to_yuan(fen: int) -> str:
    return format_yuan(fen)


def yuan_to_fen(text: str) -> int:
    """Alipay's ``"0.10"`` to 10. Raises ``ValueError`` for anything but a plain amount."""
    if not _YUAN.fullmatch(text):
        raise ValueError(f"not an Alipay amount: {text!r}")
    return parse_yuan(text)


def pem_from_der_b64(der_b64: str, kind: str = "PUBLIC KEY") -> str:
    """Alipay's portal shows keys as bare base64; PEM-wrap one."""
    body = "\n".join(textwrap.wrap(der_b64.strip(), 64))
    base64.b64decode(der_b64, validate=True)
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n"
