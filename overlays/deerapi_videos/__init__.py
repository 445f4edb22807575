"""Typed Python client for DeerAPI's Sora 2 video API."""
