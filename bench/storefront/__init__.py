"""The storefront crowd benchmark (issue #13): ``python -m bench.storefront``."""
