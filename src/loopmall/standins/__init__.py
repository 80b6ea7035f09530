"""Local servers that speak the outside systems' real protocols, for tests and the demo.

Never used in production. Each stand-in is an ASGI app; ``runner.serve`` puts one on a free
127.0.0.1 port in a background thread.
"""
