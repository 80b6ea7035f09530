"""A WeChat profile's nickname is outside text too (issue #11 case 7): one with a NUL or
another character core.text refuses used to fail the login on PostgreSQL (a 500); now the
person logs in under the default name."""

from __future__ import annotations

import httpx
import pytest

from loopmall.config import Settings
from loopmall.core.state import AppState
from loopmall.customers.login import DEFAULT_WECHAT_NAME
from loopmall.standins.wechat_oa import WechatOAStandin
from tests.customers.test_login_api import _wechat_app, _wechat_login
from tests.factories import make_merchant


@pytest.fixture
def settings_(standin_settings: Settings) -> Settings:
    return standin_settings


@pytest.mark.parametrize("nickname", ["阿\x00花", "a\u202eb", "a\x1bb"])
async def test_a_wechat_nickname_with_refused_text_logs_in_under_the_default_name(
    settings_: Settings,
    state: AppState,
    client: httpx.AsyncClient,
    oa_standin: WechatOAStandin,
    nickname: str,
) -> None:
    acme = await make_merchant(state, "acme")
    appid = await _wechat_app(state, oa_standin, acme, None)

    r = await _wechat_login(client, "acme", nickname)

    assert r.status_code == 201, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    me = (await client.get("/api/v1/mall/acme/auth/me", headers=headers)).json()
    assert me["name"] == DEFAULT_WECHAT_NAME
    assert me["openid"] == oa_standin.openid_for(appid, nickname)


async def test_a_clean_nickname_is_kept(
    settings_: Settings, state: AppState, client: httpx.AsyncClient, oa_standin: WechatOAStandin
) -> None:
    acme = await make_merchant(state, "acme")
    await _wechat_app(state, oa_standin, acme, None)
    r = await _wechat_login(client, "acme", "小明 👨\u200d👩\u200d👧")
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    me = (await client.get("/api/v1/mall/acme/auth/me", headers=headers)).json()
    assert me["name"] == "小明 👨\u200d👩\u200d👧"
