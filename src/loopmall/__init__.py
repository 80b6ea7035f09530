"""Loopmall: multi-tenant social commerce + O2O platform."""

__version__ = "0.1.0"
