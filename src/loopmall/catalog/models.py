"""Catalog tables: categories, products (SPU), SKUs, images, channel prices."""
