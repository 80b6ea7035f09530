from tests.standins.fixtures import (  # noqa: F401
    alipay_app,
    alipay_provider,
    notify_sink,
    payment_standins,
    wechatpay_merchant,
    wechatpay_provider,
)
