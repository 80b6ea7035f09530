"""Run the payment stand-ins on fixed ports until interrupted (the demo, manual trials).

    python -m loopmall.standins --wechatpay-port 8801 --alipay-port 8802

Then point ``LOOPMALL_WECHATPAY_BASE_URL`` / ``LOOPMALL_ALIPAY_GATEWAY_URL`` at them and
register accounts with ``POST /_standin/merchants`` (see :mod:`loopmall.standins.control`).
"""

from __future__ import annotations

import argparse
import time

from loopmall.standins.alipay import AlipayStandin
from loopmall.standins.runner import serve
from loopmall.standins.wechatpay import WeChatPayStandin


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loopmall.standins")
    parser.add_argument("--wechatpay-port", type=int, default=8801)
    parser.add_argument("--alipay-port", type=int, default=8802)
    args = parser.parse_args()
    with (
        serve(WeChatPayStandin().app, port=args.wechatpay_port) as wx,
        serve(AlipayStandin().app, port=args.alipay_port) as ali,
    ):
        print(f"WeChat Pay stand-in: {wx.url}\nAlipay stand-in:     {ali.url}/gateway.do")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
