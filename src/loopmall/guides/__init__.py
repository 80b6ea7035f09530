"""The guide workbench (导购): conversations over WebSocket, product cards, holds in the
store, fittings, customer hand-over."""
