"""WeChat Pay API v3 adapter (``wechatpayv3``, public-key mode)."""

from loopmall.integrations.wechatpay.config import WeChatPayConfig
from loopmall.integrations.wechatpay.provider import WeChatPayProvider, wechatpay_provider

__all__ = ["WeChatPayConfig", "WeChatPayProvider", "wechatpay_provider"]
