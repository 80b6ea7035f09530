"""Benchmarks: `make bench` (small sizes) or `make bench-full`."""
