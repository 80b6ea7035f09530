"""QR channels (store, guide, product-in-store, poster placement, join-membership codes), scans and visitors, posters, membership via QR."""
