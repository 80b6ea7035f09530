"""QR channels (store, guide, product in a store, poster placement, join offer), scans and
visitors, posters, membership via QR.

Importing the package registers what the customers domain (below it) asks of it: at each
sign-in, the device's scans become the customer's (``customers.hooks``, ``after_login``)."""

from loopmall.customers.hooks import on_signed_in
from loopmall.o2o.service import after_login

on_signed_in("o2o.claim_scans", after_login)
