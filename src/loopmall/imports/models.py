"""Import job tables."""
