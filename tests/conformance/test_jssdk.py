"""JS-SDK ``wx.config`` signatures agree exactly with WeChat's published examples
(shared/testvectors/wechat_jssdk.json), through our function and through the OA client
fetching the ticket from the stand-in."""

from __future__ import annotations

from typing import Any

from loopmall.integrations.wechat import WechatOAClient, jssdk_signature
from loopmall.standins.runner import serve
from loopmall.standins.wechat_oa import WechatOAStandin
from tests.conformance.vectors import load


def _cases() -> list[tuple[dict[str, Any], dict[str, str]]]:
    vector = load("wechat_jssdk.json")["jssdk_v8"]
    return [(vector, case) for case in vector["cases"]]


def test_every_vector() -> None:
    cases = _cases()
    assert cases
    for vector, case in cases:
        got = jssdk_signature(
            jsapi_ticket=vector["jsapi_ticket"],
            noncestr=vector["noncestr"],
            timestamp=vector["timestamp"],
            url=case["url"],
        )
        assert got == case["signature"], case["url"]


def test_the_fragment_is_not_signed() -> None:
    for vector, case in _cases():
        got = jssdk_signature(
            jsapi_ticket=vector["jsapi_ticket"],
            noncestr=vector["noncestr"],
            timestamp=int(vector["timestamp"]),
            url=case["url"] + "#section-2",
        )
        assert got == case["signature"]


def test_a_changed_field_changes_the_signature() -> None:
    vector, case = _cases()[0]
    base = {
        "jsapi_ticket": vector["jsapi_ticket"],
        "noncestr": vector["noncestr"],
        "timestamp": vector["timestamp"],
        "url": case["url"],
    }
    for key in base:
        changed = dict(base, **{key: base[key] + "x"})
        assert jssdk_signature(**changed) != case["signature"], key


async def test_client_config_with_the_vector_ticket() -> None:
    """The client fetches token and ticket over HTTP and signs like the vectors."""
    vector, case = _cases()[0]
    standin = WechatOAStandin()
    standin.add_app("wxvector0000001", "s" * 32)
    with serve(standin.app) as served:
        client = WechatOAClient(appid="wxvector0000001", secret="s" * 32, api_base_url=served.url)
        await client.access_token()  # creates the app's ticket slot on first request
        standin.tickets["wxvector0000001"] = vector["jsapi_ticket"]
        cfg = await client.jssdk_config(
            case["url"], noncestr=vector["noncestr"], timestamp=int(vector["timestamp"])
        )
    assert cfg["signature"] == case["signature"]
    assert cfg["appId"] == "wxvector0000001"
