"""`make demo` / `loopmall demo` as a newcomer meets them (issue #14, items 1-3): it says what
it is doing, prints every link whole on its own line and one working login per role.

The command runs once for the module, as a newcomer runs it: a subprocess on a fresh data
folder (SQLite, the demo's database), in a terminal 40 columns wide."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from loopmall.app import create_app
from loopmall.config import Settings
from loopmall.demo.world import DEMO_PASSWORD, OPERATOR_EMAIL

ROOT = Path(__file__).resolve().parents[2]
LOOPMALL = Path(sys.executable).parent / "loopmall"
PORT = 8765  # only printed in the links: nothing is served
URL = re.compile(r"https?://\S+")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-data")


@pytest.fixture(scope="module")
def printed(data_dir: Path) -> Iterator[str]:
    env = {
        **os.environ,
        "LOOPMALL_DATA_DIR": str(data_dir),
        "LOOPMALL_DATABASE_URL": "",
        "LOOPMALL_PORT": str(PORT),
        "COLUMNS": "40",  # a narrow terminal: nothing may wrap a link
    }
    done = subprocess.run(
        [str(LOOPMALL), "demo"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    yield done.stdout


def test_make_demo_says_what_it_is_doing(printed: str, tmp_path: Path) -> None:
    """Item 1: each slow step announces itself before it starts."""
    dry_run = subprocess.run(
        ["make", "-n", "demo", f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "==> creating the Python environment" in dry_run
    assert "==> installing Loopmall and its libraries" in dry_run
    steps = [line for line in printed.splitlines() if line.startswith("==> ")]
    assert steps[0] == "==> migrating the database"
    assert steps[1].startswith("==> loading the demo world")


def test_every_link_is_whole_on_its_own_line(printed: str) -> None:
    """Item 2: 40 columns or a file, a link is never broken across lines."""
    base = f"http://127.0.0.1:{PORT}"
    links = [link for line in printed.splitlines() for link in URL.findall(line)]
    assert f"{base}/console/login" in links
    assert f"{base}/platform/login" in links
    for slug in ("vero", "pancake", "duck", "fruit"):
        assert f"{base}/m/{slug}/" in links
    assert f"{base}/docs" in links
    assert any(link.startswith(f"{base}/m/vero/flash/fs_") for link in links)  # item 4
    for line in printed.splitlines():  # a link that wrapped would leave a stub of a line
        assert not line.startswith(("/", "m/", "console", "login")), line
    assert all(link.startswith(base) for link in links)


def _logins(printed: str) -> list[tuple[str, str, str]]:
    """(who, merchant, account) of every printed login line."""
    found = []
    for line in printed.splitlines():
        match = re.match(r"- (.+?): (?:merchant (\S+), )?(\S+), password (\S+)$", line)
        if match:
            assert match.group(4) == DEMO_PASSWORD
            found.append((match.group(1), match.group(2) or "", match.group(3)))
    return found


@pytest.fixture
async def demo_client(printed: str, data_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        env="test", data_dir=data_dir, database_url="", auto_migrate=False, run_background=False
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_one_working_login_for_every_role(
    printed: str, demo_client: httpx.AsyncClient
) -> None:
    """Item 3: owner, store manager, guide, cashier and operator each have a printed login,
    with what to try, and each logs in."""
    logins = _logins(printed)
    roles = {"owner", "store manager", "guide", "cashier", "platform operator"}
    assert roles <= {next(r for r in roles if who.startswith(r)) for who, _m, _a in logins}
    assert printed.count("  try: ") == len(logins)
    for who, merchant, account in logins:
        if who == "platform operator":
            assert account == OPERATOR_EMAIL
            r = await demo_client.post(
                "/api/v1/platform/auth/token",
                json={"email": account, "password": DEMO_PASSWORD},
            )
        else:
            r = await demo_client.post(
                "/api/v1/auth/token",
                json={"merchant": merchant, "phone": account, "password": DEMO_PASSWORD},
            )
        assert r.status_code == 201, (who, r.text)
    me = await demo_client.post(
        "/api/v1/auth/token",
        json={"merchant": "vero", "phone": "13900000020", "password": DEMO_PASSWORD},
    )
    who_am_i = await demo_client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {me.json()['access_token']}"}
    )
    assert who_am_i.json()["role"] == "cashier"
