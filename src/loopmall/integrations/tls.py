"""One TLS context for the outside HTTP clients.

``httpx.AsyncClient()`` loads the CA bundle on every construction (about 20–150 ms); the
WeChat and SMS clients make a short-lived client per call, so they share this context.
"""

from __future__ import annotations

import ssl
from functools import cache

import certifi


@cache
def tls_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certifi.where())
