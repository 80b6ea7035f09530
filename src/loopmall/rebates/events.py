"""Events the rebates domain publishes and the handlers and periodic jobs it registers."""

from __future__ import annotations
