"""Notifications (C7): every order step to the customer through the outbox — WeChat subscribe
and template messages, SMS fallback, the in-app inbox — and the service-account invitation."""
