"""Settings: the only place that reads the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("var")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOOPMALL_", env_file=None, extra="ignore")

    # A closed set, so a misspelt "production" fails at start instead of skipping the
    # production checks (core.production).
    env: Literal["dev", "test", "prod"] = Field("dev", description="dev | test | prod")
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    redis_url: str | None = None
    redis_prefix: str = "loopmall:"
    secret_key: str = "dev-secret-change-me"  # noqa: S105 - dev default, README says to set it
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000

    # Database connections per process: pool + overflow (README, "Database connections": the
    # sum over app processes, workers and consumers stays below PostgreSQL's max_connections).
    # A request that waits longer than the pool timeout for a connection, or that the database
    # refuses one ("too many clients already"), is answered 503 server_busy with Retry-After
    # (an overloaded process sheds load instead of answering 500 after the client gave up).
    db_pool_size: int = 20
    db_max_overflow: int = 20
    db_pool_timeout_seconds: float = 10.0

    # Sessions and login
    session_cookie: str = "lm_session"
    session_ttl_seconds: int = 12 * 3600
    cookie_secure: bool = False
    api_token_ttl_seconds: int = 30 * 24 * 3600
    login_max_failures: int = 5
    login_window_seconds: int = 15 * 60

    # Request bodies: JSON and forms are refused over body_max_bytes before they are read;
    # multipart bodies (uploads, imports) are held to their own routes' limits below.
    body_max_bytes: int = 1024 * 1024
    # Uploads
    upload_max_bytes: int = 5 * 1024 * 1024
    import_max_bytes: int = 50 * 1024 * 1024

    # Background work in-process (embedded default); production runs `loopmall worker`.
    run_background: bool = True
    outbox_poll_seconds: float = 0.5
    hold_sweep_seconds: float = 5.0
    auto_migrate: bool = True
    # The event broker (docs/adr/0009-event-broker.md). Empty: the embedded default, events
    # delivered in-process. ``nats://host:4222``: committed events are relayed to NATS
    # JetStream and applied by ``loopmall worker`` processes (the web app neither relays nor
    # consumes). Required in production with PostgreSQL (core.production).
    event_broker_url: str = ""
    event_broker_stream: str = "LOOPMALL_EVENTS"
    event_broker_subject_prefix: str = "loopmall.ev"
    # Ordered subscribers get one consumer per partition: this many aggregates move at once.
    # Part of the stream's layout: change it only with the stream drained.
    event_broker_partitions: int = Field(8, ge=1, le=256)
    # A message held this long without an ack (a worker died) goes to another worker.
    event_broker_ack_wait_seconds: float = 30.0
    # How often a worker's relay looks for committed events (one indexed query).
    event_relay_poll_seconds: float = 0.1
    # Modules a worker imports besides the app's handler modules, comma-separated: a test and
    # operations hook (the broker tests register their counting subscribers with it).
    extra_handler_modules: str = ""

    # Consumers (the mall side)
    consumer_cookie: str = "lm_shopper"
    consumer_session_ttl_seconds: int = 30 * 24 * 3600
    sms_code_ttl_seconds: int = 300
    # The demo's one-tap login (sandbox consumers only, see consumer_login.sandbox_sign_in):
    # off unless switched on; the demo and the tests switch it on; refused in production.
    sandbox_login: bool = False

    # Outside systems: each adapter talks to a configurable base URL (stand-ins in dev/tests).
    wechat_api_base_url: str = "https://api.weixin.qq.com"
    wechat_open_base_url: str = "https://open.weixin.qq.com"
    wechatpay_base_url: str = "https://api.mch.weixin.qq.com"
    alipay_gateway_url: str = "https://openapi.alipay.com/gateway.do"
    sms_base_url: str = ""  # empty: the console SMS sender (dev)
    http_timeout_seconds: float = 10.0

    # Orders and payments
    # The sandbox "pay" button marks an order paid with no money: off unless switched on
    # (the demo and the tests do); refused in production.
    sandbox_payments: bool = False
    unpaid_order_ttl_seconds: int = 30 * 60
    order_sweep_seconds: float = 10.0
    callback_window_seconds: int = 300

    # O2O channels and sharing (issue #4)
    visitor_cookie: str = "lm_visitor"  # an anonymous device id, merged when the visitor logs in
    visitor_ttl_seconds: int = 180 * 24 * 3600

    # Guide workbench (issue #4)
    chat_history_page: int = 50
    fitting_reminder_seconds: int = 2 * 3600  # remind this long before a fitting
    fitting_sweep_seconds: float = 30.0

    # Flash sales (issue #5)
    flashsale_buckets: int = 16  # stock rows per SKU on the database gate (no Redis)
    flashsale_batch: int = 200  # accepted requests turned into orders per batch
    flashsale_pay_within_seconds: int = 15 * 60
    flashsale_rate_per_consumer: int = 5  # gate attempts per consumer per second
    flashsale_rate_per_ip: int = 200  # gate attempts per IP per second
    flashsale_sweep_seconds: float = 2.0
    # After Redis answers "sold out", each app process answers it for this long on its own
    # (0: always ask Redis); a lapsed unit waits at most this long to be sold again.
    flashsale_sold_out_memory_seconds: float = 0.25

    # The storefront's read cache (core.readcache, ADR 0010): values per app process (an LRU
    # of at most this many bytes of JSON), shared through Redis when it is configured.
    # Catalog, mall and store values are forgotten by the events that change them, and after
    # the TTL anyway; stock values live at most readcache_stock_ttl_seconds — the bound on how
    # long "in stock" or "sold out" may be out of date (reservations and lapsed holds move it
    # all the time).
    readcache_max_bytes: int = Field(64 * 1024 * 1024, ge=64 * 1024)
    readcache_ttl_seconds: float = Field(300.0, gt=0)
    readcache_stock_ttl_seconds: float = Field(2.0, gt=0)
    # How long a request waits for Redis before it reads through to the database.
    readcache_redis_timeout_seconds: float = Field(0.25, gt=0)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'loopmall.db').as_posix()}"

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
