"""Social tests: VERO's mall (tests.storefront.seed), shoppers logged in through the identity
service, and the WeChat OA stand-in for the JS-SDK share configuration."""

from __future__ import annotations

from tests.customers.consumer_fixtures import (
    _oa_server,
    _sms_server,
    oa_standin,
    sms_standin,
    standin_settings,
)

__all__ = ["_oa_server", "_sms_server", "oa_standin", "sms_standin", "standin_settings"]
