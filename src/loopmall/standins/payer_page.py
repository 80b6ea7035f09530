"""The stand-in "payer" pages: what the customer's phone would show after scanning."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from loopmall.core.money import format_yuan
from loopmall.integrations.payment_provider import PayMethod, PayStart

_STYLE = """
body{font-family:-apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;
background:#f2f2f2;margin:0}
main{max-width:420px;margin:0 auto;padding:32px 20px;text-align:center}
.brand{font-size:15px;color:#555}.merchant{font-size:17px;margin:18px 0 6px}
.amount{font-size:40px;font-weight:600;margin:8px 0 4px}.desc{color:#777;font-size:14px}
button{margin-top:36px;width:100%;padding:14px;font-size:17px;border:0;border-radius:8px;
color:#fff;background:var(--c)}.note{margin-top:28px;color:#999;font-size:12px}
.done{font-size:22px;margin-top:30px;color:var(--c)}.err{color:#c00;margin-top:30px}
"""


def payer_page(
    *,
    brand: str,
    color: str,
    merchant: str,
    amount_fen: int,
    description: str,
    action: str,
    hidden: dict[str, str] | None = None,
    message: str | None = None,
    error: str | None = None,
    back_url: str | None = None,
) -> str:
    """The confirm page (a form posting to ``action``), or the outcome (``message``/``error``)."""
    fields = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
        for k, v in (hidden or {}).items()
    )
    if message:
        body = f'<p class="done" role="status">{escape(message)}</p>'
        if back_url:
            body += f'<p><a href="{escape(back_url)}">返回商户</a></p>'
    elif error:
        body = f'<p class="err" role="alert">{escape(error)}</p>'
    else:
        body = (
            f'<form method="post" action="{escape(action)}">{fields}'
            '<button type="submit">确认支付</button></form>'
        )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(brand)} · 模拟收银台</title><style>{_STYLE}</style></head>
<body style="--c:{escape(color)}"><main>
<p class="brand">{escape(brand)}（模拟器）</p>
<p class="merchant">{escape(merchant)}</p>
<p class="amount" data-amount-fen="{amount_fen}">¥{format_yuan(amount_fen)}</p>
<p class="desc">{escape(description)}</p>
{body}
<p class="note">本页面由本地模拟器提供，仅用于演示与测试。</p>
</main></body></html>"""


def payer_url(start: PayStart, *, wechatpay_base_url: str) -> str | None:
    """Where a browser can "scan and pay" what a :class:`PayStart` shows, on the stand-ins.

    For the demo and browser tests only (a real code_url opens only in WeChat's scanner):
    Native code_url → the stand-in's scan page; JSAPI → its cashier for the prepay_id; H5 and
    Alipay already point at the stand-in (h5_url, qr_code). None for the sandbox.
    """
    base = wechatpay_base_url.rstrip("/")
    if start.method is PayMethod.WECHAT_NATIVE and start.qr_content:
        return f"{base}/_standin/scan?code_url={quote(start.qr_content, safe='')}"
    if start.method is PayMethod.WECHAT_JSAPI and start.jsapi_params:
        prepay_id = start.jsapi_params["package"].removeprefix("prepay_id=")
        return f"{base}/_standin/pay/{prepay_id}"
    if start.method is PayMethod.WECHAT_H5:
        return start.redirect_url
    if start.method is PayMethod.ALIPAY_QR:
        return start.qr_content
    return None
