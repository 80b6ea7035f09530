"""The storefront crowd benchmark's pieces (bench/storefront): the requests wrk is given,
the Lua script's counting through the real wrk, the judging against the targets and the
tables. Nothing here is timed."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from bench.flashsale import wrk as flash_wrk
from bench.storefront import crowd, report, wrk
from bench.storefront.wrk import Request

PLAN = {
    "shop": "vero",
    "products": ["prd_a", "prd_b", "prd_c"],
    "categories": ["cat_a", "cat_b"],
    "skus": ["sku_1", "sku_2"],
    "qr_codes": ["q1", "q2"],
    "shopper_cookie": "lm_shopper_vero",
    "sales": [{"path": "/api/v1/mall/flash1/flash/fs_1/buy", "sale_id": 1, "customers": [1]}],
}
SHOPPERS = crowd.Shoppers("lm_shopper_vero", ["tok0", "tok1"], ["csrf0", "csrf1"], ["sh_x.sig"])


def test_a_request_line_is_what_crowd_lua_splits() -> None:
    r = Request("/p", method="POST", headers={"A": "1", "B": "2"}, body='{"x":1}')
    assert r.line() == 'POST\t/p\tA: 1|B: 2\t{"x":1}'
    assert Request("/q").line() == "GET\t/q\t-\t-"
    for bad in (Request("/a\tb"), Request("/a", headers={"A": "x|y"}), Request("/a", body="1\n2")):
        with pytest.raises(ValueError):
            bad.line()


def test_the_pages_rotate_and_the_signed_in_ones_carry_the_cookie() -> None:
    pages = {p.name: p for p in crowd.pages(PLAN, SHOPPERS)}
    products = pages["product page"].requests
    assert len(products) == crowd.ROTATION
    assert [r.path for r in products[:4]] == [
        "/m/vero/p/prd_a",
        "/m/vero/p/prd_b",
        "/m/vero/p/prd_c",
        "/m/vero/p/prd_a",
    ]
    signed = pages["product page, signed in"].requests
    assert [r.headers["Cookie"] for r in signed[:3]] == [
        "lm_shopper_vero=tok0",
        "lm_shopper_vero=tok1",
        "lm_shopper_vero=tok0",
    ]
    cart = pages["add to cart (cookie + CSRF)"].requests[1]
    assert (cart.method, cart.path) == ("POST", "/api/v1/mall/vero/cart/items")
    assert cart.headers["X-CSRF-Token"] == "csrf1"
    assert json.loads(cart.body) == {"sku": "sku_2", "quantity": 1}
    assert pages["flash sale page"].requests[0].path == "/m/flash1/flash/fs_1"
    assert pages["share landing → 303"].ok_statuses == {302, 303}
    assert pages["product page"].target is crowd.PRODUCT
    assert pages["home"].target is crowd.LIST


def test_judged_against_the_target_and_5xx_fails_the_run() -> None:
    page = crowd.Page("product page", [Request("/p")], crowd.PRODUCT)
    got = {"req_per_s": 610.0, "p99_ms": 49.0, "statuses": {"200": 10, "404": 2}, "5xx": 0}
    fine = crowd.judged(page, got, healthz_rps=1000.0)
    assert (fine["ratio"], fine["target_met"], fine["unexpected"], fine["failed"]) == (
        0.61,
        True,
        2,
        False,
    )
    slow = crowd.judged(page, {**got, "p99_ms": 50.0}, healthz_rps=1000.0)
    assert slow["target_met"] is False
    few = crowd.judged(page, {**got, "req_per_s": 590.0}, healthz_rps=1000.0)
    assert few["target_met"] is False
    assert crowd.judged(page, {**got, "5xx": 1}, healthz_rps=1000.0)["failed"] is True


class _Answers(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        status = {"/ok": 200, "/moved": 302, "/boom": 500}[self.path]
        self.send_response(status)
        self.send_header("Content-Length", "0")
        if status == 302:
            self.send_header("Location", "/ok")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def little_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(not flash_wrk.available(), reason="Debian's wrk is not installed")
def test_crowd_lua_counts_each_answer_by_status(little_server: str, tmp_path: Path) -> None:
    rotation = [Request("/ok"), Request("/moved"), Request("/boom"), Request("/ok")]
    got = asyncio.run(
        wrk.crowd(little_server, rotation, tmp_path, name="t", seconds=1, connections=2)
    )
    counted = got["2xx"] + got["3xx"] + got["5xx"]
    assert got["requests"] == counted > 0
    assert set(got["statuses"]) == {"200", "302", "500"}
    assert got["2xx"] >= got["3xx"] > 0
    assert got["5xx"] > 0


def test_the_tables_put_the_codes_side_by_side() -> None:
    page = crowd.Page("home", [Request("/m/vero/")], crowd.LIST)
    figures = {"req_per_s": 400.0, "p50_ms": 5.0, "p99_ms": 20.0, "statuses": {"200": 1}, "5xx": 0}
    checkout = {
        "orders_per_s": 12.5,
        "paid_orders": 50,
        "steps": {
            s: {"ok": 50, "errors": {}, "p50_ms": 1.0, "p99_ms": 2.0}
            for s in ("cart", "checkout", "pay_start", "payer_scan", "pay", "paid")
        },
    }
    runs = [
        {
            "code": code,
            "backend": "sqlite",
            "apps": 1,
            "pages": {
                "home": crowd.judged(page, {**figures, "req_per_s": rps}, 1000.0),
                "api: product": {"skipped": "404"},
                "checkout": checkout,
                "tracebacks": 0,
            },
        }
        for code, rps in (("current", 400.0), ("base-98d5c9f", 35.0))
    ]
    text = report.markdown(runs)
    assert "| page | target | current | base-98d5c9f |" in text
    assert "| home | ≥ 0.35×, p99 < 50 ms | 400/s ×0.400 p50 5.0 p99 20.0 ✓ |" in text
    assert "35/s ×0.035 p50 5.0 p99 20.0 ✗" in text
    assert "| api: product |  | skipped | skipped |" in text
    assert "12.5 orders/s (50 paid)" in text
    rows = report.rows_of(runs)
    assert {r.metric for r in rows} >= {"home ÷ healthz", "checkout → paid"}


def test_ratios_are_rebased_on_the_faster_healthz_run() -> None:
    page = crowd.Page("product page", [Request("/p")], crowd.PRODUCT)
    figures = {"p99_ms": 20.0, "statuses": {"200": 1}, "5xx": 0}
    results = {
        "healthz": {**figures, "req_per_s": 300.0},
        "product page": crowd.judged(page, {**figures, "req_per_s": 240.0}, 300.0),
        "healthz, again": {**figures, "req_per_s": 800.0},
        "api: product": {"skipped": "404"},
    }
    assert results["product page"]["target_met"] is True  # 0.8 × the slow first run
    bare = crowd.rebased(results, {"product page": crowd.PRODUCT, "healthz": None})
    assert bare == 800.0
    assert (results["product page"]["ratio"], results["product page"]["target_met"]) == (0.3, False)
    assert results["healthz"]["ratio"] == 0.375
