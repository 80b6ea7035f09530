"""Payments (C6): providers behind one Protocol, callbacks, refunds, reconciliation, 收款码."""
