"""`loopmall operator create`: a platform operator who can then list merchants."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from loopmall.app import create_app
from loopmall.cli import app as cli
from loopmall.config import Settings, get_settings

runner = CliRunner()


@pytest.fixture
def cli_settings(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    target = tmp_path / "cli.db"
    shutil.copyfile(sqlite_template, target)
    url = f"sqlite+aiosqlite:///{target}"
    monkeypatch.setenv("LOOPMALL_DATABASE_URL", url)
    monkeypatch.setenv("LOOPMALL_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield Settings(
        database_url=url, data_dir=tmp_path / "data", auto_migrate=False, run_background=False
    )
    get_settings.cache_clear()


def create(*args: str) -> object:
    return runner.invoke(cli, ["operator", "create", *args])


async def operator_lists_merchants(settings: Settings, email: str, password: str) -> list[str]:
    application = create_app(settings)
    transport = httpx.ASGITransport(app=application)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        signup = {
            "name": "Fruit",
            "slug": "fruit",
            "owner_name": "Wang",
            "owner_phone": "13900000000",
            "owner_password": "owner-password",
        }
        assert (await client.post("/api/v1/merchants", json=signup)).status_code == 201
        token = await client.post(
            "/api/v1/platform/auth/token", json={"email": email, "password": password}
        )
        assert token.status_code == 201, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        page = (await client.get("/api/v1/platform/merchants", headers=headers)).json()
        return [m["slug"] for m in page["items"]]


def test_create_an_operator_who_then_lists_merchants(cli_settings: Settings) -> None:
    result = create("--email", " Ops@Loopmall.dev ", "--name", "Ops", "--password", "op-pass-123")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "operator ops@loopmall.dev created" in result.output  # type: ignore[attr-defined]
    slugs = asyncio.run(operator_lists_merchants(cli_settings, "ops@loopmall.dev", "op-pass-123"))
    assert slugs == ["fruit"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (
            ["--email", "not-an-email", "--name", "Ops", "--password", "op-pass-123"],
            "validation_failed",
        ),
        (["--email", "ops@loopmall.dev", "--name", "Ops", "--password", "short"], "weak_password"),
    ],
)
def test_bad_operator_details_exit_1(cli_settings: Settings, args: list[str], code: str) -> None:
    result = create(*args)
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert code in result.output  # type: ignore[attr-defined]


def test_the_same_email_twice_exits_1(cli_settings: Settings) -> None:
    args = ["--email", "ops@loopmall.dev", "--name", "Ops", "--password", "op-pass-123"]
    assert create(*args).exit_code == 0  # type: ignore[attr-defined]
    again = create(*args)
    assert again.exit_code == 1  # type: ignore[attr-defined]
    assert "email_taken" in again.output  # type: ignore[attr-defined]


def test_the_password_is_asked_for_when_not_given(cli_settings: Settings) -> None:
    result = runner.invoke(
        cli,
        ["operator", "create", "--email", "ops@loopmall.dev", "--name", "Ops"],
        input="op-pass-123\nop-pass-123\n",
    )
    assert result.exit_code == 0, result.output
    assert "created" in result.output
