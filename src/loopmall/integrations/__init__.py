"""Adapters to the outside world (WeChat, WeChat Pay, Alipay, SMS), each behind a small Protocol."""
