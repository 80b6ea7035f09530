"""The stand-ins (WeChat Pay, Alipay, the WeChat service account, SMS) in their own process,
with the demo merchants' keys registered, on free ports; the soak starts it before the app.

    python -m bench.soak.standins --data-dir DIR --out urls.json

``DIR`` holds the keys the world was connected with (``demo-outside.json``); the stand-ins'
base URLs are written to ``urls.json`` once they listen. Runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from loopmall.config import Settings
from loopmall.demo.outside import Outside, load_keys
from loopmall.demo.world import PLANS


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak.standins")
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    keys = load_keys(
        Settings(data_dir=args.data_dir), [(slug, name) for slug, name, *_rest in PLANS]
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    outside = Outside(keys, ports={"wechatpay": 0, "alipay": 0, "wechat": 0, "sms": 0}).start()
    try:
        urls = {name: outside.url(name) for name in ("wechatpay", "alipay", "wechat", "sms")}
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(urls))
        tmp.rename(args.out)
        stop.wait()
    finally:
        outside.stop()


if __name__ == "__main__":
    main()
