"""Notifications (C7): every order step to the customer through the outbox — WeChat subscribe
and template messages, SMS fallback, the in-app inbox — and the service-account invitation.

Importing the package registers what the customers domain (below it) asks of it: the unread
messages badge on the "me" page (``customers.hooks``)."""

from loopmall.customers.hooks import use_me_counter
from loopmall.notifications.inbox import unread_count

use_me_counter("unread", unread_count)
