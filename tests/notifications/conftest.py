"""Notifications tests run against the WeChat OA and SMS stand-ins."""

from __future__ import annotations

from tests.customers.consumer_fixtures import (
    _oa_server,
    _sms_server,
    oa_standin,
    sms_standin,
    standin_settings,
)

__all__ = ["_oa_server", "_sms_server", "oa_standin", "sms_standin", "standin_settings"]
