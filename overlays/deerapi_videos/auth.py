"""The client's credential rules, for the tools built on it (CLI, conformance check, mock).

Each rule has one home, in the client; the tools use it from here instead of restating it.
"""

from ._auth import REDACTED, is_loopback, key_may_travel_to

__all__ = ["REDACTED", "is_loopback", "key_may_travel_to"]
