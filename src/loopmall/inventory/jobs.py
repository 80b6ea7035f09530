"""Periodic jobs of inventory: holds that lapsed return to stock."""
