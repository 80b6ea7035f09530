"""Local servers that speak the outside systems' real protocols, for tests and the demo.

Never used in production. Each stand-in is an ASGI app; ``runner.serve`` puts one on a free
127.0.0.1 port in a background thread (``python -m loopmall.standins`` on fixed ports).

Payments (WeChat Pay API v3 and Alipay's gateway):

- ``harness.PaymentStandins`` — both served, plus ``new_wechatpay_merchant()`` /
  ``new_alipay_app()`` (fresh accounts registered with them) and the real adapters wired to
  them; pytest fixtures over it in ``tests/standins/fixtures.py``.
- ``wechatpay.WeChatPayStandin`` (+ ``wechatpay_trades``, ``wechatpay_routes``,
  ``wechatpay_jsapi``) and ``alipay.AlipayStandin`` (+ ``alipay_trades``, ``alipay_routes``).
- ``control`` — the JSON control API (pay with or without delivering, finish refunds, build
  any genuinely signed callback, list and re-deliver callbacks).
- ``payer_page.payer_url`` — the stand-in page where a browser "scans and pays" a PayStart.
- ``keys`` — credentials for tests and the demo (RSA pairs, merchants, apps).
- ``delivery`` — callbacks recorded byte for byte and POSTed to notify_url.
"""
