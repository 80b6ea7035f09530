"""The consumer's mobile micro-mall: home from the merchant's blocks, categories, products."""
