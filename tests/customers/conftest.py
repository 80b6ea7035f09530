"""The customers tests share the merchants tests' helpers and template-layout fixture."""

from __future__ import annotations

from tests.customers.consumer_fixtures import (
    _oa_server,
    _sms_server,
    oa_standin,
    sms_standin,
    standin_settings,
)
from tests.merchants.conftest import owner

__all__ = [
    "_oa_server",
    "_sms_server",
    "oa_standin",
    "owner",
    "sms_standin",
    "standin_settings",
]
