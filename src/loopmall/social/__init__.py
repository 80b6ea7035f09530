"""Sharing: signed share links that carry the sharer, share chains (who shared to whom),
WeChat JS-SDK share configuration, share posters."""
