"""Inventory tables: locations, stock levels, holds and the movement ledger."""
