"""The client's retry rules, for the tools built on it (the batch scheduler).

Each rule has one home, in the client; the tools use it from here instead of restating it.
"""

from ._retry import parse_retry_after

__all__ = ["parse_retry_after"]
