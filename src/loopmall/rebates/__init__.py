"""Rebates and distribution (分销): commission rules, the commission ledger with claw-back on
refunds, settlement per period, CSV export, earnings."""
