"""LOOPMALL_ENV=prod refuses to start unsafe (issue #11, case 14 and the production mode):
every problem named at once, by create_app and by ``loopmall serve`` / ``worker``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from loopmall.app import create_app
from loopmall.cli import app as cli
from loopmall.config import Settings, get_settings
from loopmall.core.production import UnsafeProductionSettings, check, problems

SAFE = {
    "env": "prod",
    "secret_key": "k" * 48,
    "cookie_secure": True,
    "sandbox_login": False,
    "sandbox_payments": False,
    "base_url": "https://shop.example.cn",
    "sms_base_url": "https://sms.example.cn",
}


def _settings(tmp_path: Path, **changes: object) -> Settings:
    values: dict[str, object] = {**SAFE, "data_dir": tmp_path, **changes}
    return Settings(**values)  # type: ignore[arg-type]


def test_safe_production_settings_have_no_problems(tmp_path: Path) -> None:
    assert problems(_settings(tmp_path)) == []
    check(_settings(tmp_path))  # does not raise


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"secret_key": "dev-secret-change-me"}, "LOOPMALL_SECRET_KEY is the published default"),
        ({"secret_key": "short-secret"}, "LOOPMALL_SECRET_KEY is 12 characters"),
        ({"cookie_secure": False}, "LOOPMALL_COOKIE_SECURE is false"),
        ({"sandbox_login": True}, "LOOPMALL_SANDBOX_LOGIN is on"),
        ({"sandbox_payments": True}, "LOOPMALL_SANDBOX_PAYMENTS is on"),
        ({"base_url": "http://127.0.0.1:8000"}, "LOOPMALL_BASE_URL 'http://127.0.0.1:8000'"),
        (
            {"base_url": "http://shop.example.cn"},
            "LOOPMALL_BASE_URL 'http://shop.example.cn' is not https",
        ),
        ({"wechatpay_base_url": "http://127.0.0.1:8801"}, "LOOPMALL_WECHATPAY_BASE_URL"),
        ({"alipay_gateway_url": "https://localhost/gateway.do"}, "LOOPMALL_ALIPAY_GATEWAY_URL"),
        ({"wechat_api_base_url": "https://[::1]:8803"}, "LOOPMALL_WECHAT_API_BASE_URL"),
        ({"wechat_open_base_url": "https://0.0.0.0"}, "LOOPMALL_WECHAT_OPEN_BASE_URL"),
        ({"sms_base_url": "http://127.0.0.2:8804"}, "LOOPMALL_SMS_BASE_URL"),
        ({"sms_base_url": ""}, "LOOPMALL_SMS_BASE_URL is empty"),
    ],
)
def test_each_unsafe_setting_is_named(
    tmp_path: Path, changes: dict[str, object], expected: str
) -> None:
    found = problems(_settings(tmp_path, **changes))
    assert len(found) == 1 and found[0].startswith(expected), found


def test_the_defaults_list_every_problem_at_once(tmp_path: Path) -> None:
    defaults = Settings(env="prod", data_dir=tmp_path)
    with pytest.raises(UnsafeProductionSettings) as refused:
        check(defaults)
    named = [p.split(" ")[0] for p in refused.value.problems]
    assert named == [
        "LOOPMALL_SECRET_KEY",
        "LOOPMALL_COOKIE_SECURE",
        "LOOPMALL_BASE_URL",
        "LOOPMALL_SMS_BASE_URL",
    ]
    assert str(refused.value).startswith("LOOPMALL_ENV=prod refuses to start:")


def test_dev_and_test_are_not_checked(tmp_path: Path) -> None:
    check(Settings(env="dev", data_dir=tmp_path, sandbox_login=True))
    check(Settings(env="test", data_dir=tmp_path, sandbox_payments=True))


def test_a_misspelt_env_does_not_skip_the_checks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="env"):
        Settings(env="production", data_dir=tmp_path)  # type: ignore[arg-type]


def test_create_app_refuses_unsafe_production_settings(tmp_path: Path) -> None:
    with pytest.raises(UnsafeProductionSettings) as refused:
        create_app(_settings(tmp_path, sandbox_login=True, cookie_secure=False))
    assert [p.split(" ")[0] for p in refused.value.problems] == [
        "LOOPMALL_COOKIE_SECURE",
        "LOOPMALL_SANDBOX_LOGIN",
    ]
    create_app(_settings(tmp_path))  # safe settings build the app


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_the_cli_exits_non_zero_naming_each_problem(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPMALL_ENV", "prod")
    monkeypatch.setenv("LOOPMALL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LOOPMALL_SANDBOX_PAYMENTS", "true")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, [command])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "LOOPMALL_ENV=prod refuses to start" in result.output
    for name in ("LOOPMALL_SECRET_KEY", "LOOPMALL_COOKIE_SECURE", "LOOPMALL_SANDBOX_PAYMENTS"):
        assert name in result.output, result.output


def test_the_demo_is_never_served_in_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPMALL_ENV", "prod")
    monkeypatch.setenv("LOOPMALL_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["demo", "--serve"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1 and "for demos only" in result.output
    assert not (tmp_path / "loopmall.db").exists(), "nothing was migrated or loaded"
