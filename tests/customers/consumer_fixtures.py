"""Fixtures for consumer login and notifications: the WeChat OA and SMS stand-ins served on
127.0.0.1 (one each per test process), and settings pointing the app at them.

Use them from a conftest.py::

    from tests.customers.consumer_fixtures import oa_standin, sms_standin, standin_settings  # noqa

``standin_settings`` must be requested before ``app``/``client`` are built (list it first in
the test's arguments, or depend on it from another fixture).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from loopmall.config import Settings
from loopmall.standins.runner import serve
from loopmall.standins.sms import SmsStandin
from loopmall.standins.wechat_oa import WechatOAStandin


@pytest.fixture(scope="session")
def _oa_server() -> Iterator[tuple[WechatOAStandin, str]]:
    standin = WechatOAStandin()
    with serve(standin.app) as served:
        yield standin, served.url


@pytest.fixture(scope="session")
def _sms_server() -> Iterator[tuple[SmsStandin, str]]:
    standin = SmsStandin()
    with serve(standin.app) as served:
        yield standin, served.url


@pytest.fixture
def oa_standin(_oa_server: tuple[WechatOAStandin, str]) -> WechatOAStandin:
    standin, url = _oa_server
    standin.reset()
    standin.url = url  # type: ignore[attr-defined]
    return standin


@pytest.fixture
def sms_standin(_sms_server: tuple[SmsStandin, str]) -> SmsStandin:
    standin, url = _sms_server
    standin.reset()
    standin.url = url  # type: ignore[attr-defined]
    return standin


@pytest.fixture
def standin_settings(
    settings: Settings, oa_standin: WechatOAStandin, sms_standin: SmsStandin
) -> Settings:
    settings.wechat_api_base_url = oa_standin.url  # type: ignore[attr-defined]
    settings.wechat_open_base_url = oa_standin.url  # type: ignore[attr-defined]
    settings.sms_base_url = sms_standin.url  # type: ignore[attr-defined]
    settings.base_url = "http://testserver"
    return settings


def new_appid() -> tuple[str, str]:
    return "wx" + secrets.token_hex(8), secrets.token_hex(16)
