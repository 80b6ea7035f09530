"""QR channels (store, guide, product in a store, poster placement, join offer), scans and
visitors, posters, membership via QR."""
