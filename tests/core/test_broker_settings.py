"""The broker's settings (docs/adr/0009-event-broker.md): production with PostgreSQL needs a
nats:// broker URL; a web app with a broker URL leaves relaying and consuming to the
workers; the worker's extra handler modules hook."""

from __future__ import annotations

from pathlib import Path

from loopmall.app import create_app
from loopmall.config import Settings
from loopmall.core import outbox
from loopmall.core.broker import extra_modules
from loopmall.core.production import problems

SAFE = {
    "env": "prod",
    "secret_key": "k" * 48,
    "cookie_secure": True,
    "sandbox_login": False,
    "sandbox_payments": False,
    "base_url": "https://shop.example.cn",
    "sms_base_url": "https://sms.example.cn",
}
PG = "postgresql+asyncpg://loopmall@db.example.cn/loopmall"
# Production on PostgreSQL also needs Redis (the read cache, core.production): given here.
REDIS = "redis://cache.example.cn:6379/0"


def _settings(tmp_path: Path, **changes: object) -> Settings:
    values: dict[str, object] = {**SAFE, "data_dir": tmp_path, "redis_url": REDIS, **changes}
    return Settings(**values)  # type: ignore[arg-type]


def test_production_on_postgresql_needs_a_broker(tmp_path: Path) -> None:
    found = problems(_settings(tmp_path, database_url=PG))
    assert len(found) == 1 and found[0].startswith("LOOPMALL_EVENT_BROKER_URL"), found
    assert problems(_settings(tmp_path, database_url=PG, event_broker_url="redis://x")) == found
    assert problems(_settings(tmp_path, database_url=PG, event_broker_url="nats://mq:4222")) == []
    # The embedded default (SQLite, one process) delivers in-process, with no broker.
    assert problems(_settings(tmp_path)) == []


def test_production_on_postgresql_needs_redis_for_the_read_cache(tmp_path: Path) -> None:
    broker = {"database_url": PG, "event_broker_url": "nats://mq:4222"}
    found = problems(_settings(tmp_path, redis_url=None, **broker))
    assert len(found) == 1 and found[0].startswith("LOOPMALL_REDIS_URL is empty"), found
    # One SQLite process keeps its cache in-process.
    assert problems(_settings(tmp_path, redis_url=None)) == []


async def test_the_web_app_with_a_broker_does_not_dispatch(settings: Settings) -> None:
    with_broker = settings.model_copy(
        update={"run_background": True, "event_broker_url": "nats://127.0.0.1:1"}
    )
    app = create_app(with_broker)
    async with app.router.lifespan_context(app):
        dispatcher = app.state.loopmall.extras["dispatcher"]
        assert dispatcher not in outbox._active  # the workers relay and consume

    without = settings.model_copy(update={"run_background": True})
    app = create_app(without)
    async with app.router.lifespan_context(app):
        assert app.state.loopmall.extras["dispatcher"] in outbox._active


def test_extra_handler_modules_are_a_comma_separated_list(tmp_path: Path) -> None:
    assert extra_modules(Settings(data_dir=tmp_path)) == []
    hooked = Settings(data_dir=tmp_path, extra_handler_modules=" tests.a, tests.b ,")
    assert extra_modules(hooked) == ["tests.a", "tests.b"]
