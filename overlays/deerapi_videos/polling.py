"""The client's polling rules, for the tools built on it (the batch runner).

Each rule has one home, in the client; the tools use it from here instead of restating it.
"""

from ._polling import MIN_INTERVAL, estimated_end

__all__ = ["MIN_INTERVAL", "estimated_end"]
