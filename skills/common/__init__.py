"""Shared helpers of the built-in Python skills (protocol, image input, boxes, masks)."""
