"""Client settings, resolved and checked once at construction (shared by sync and async)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from ._auth import BearerAuth, Redactor, Secret, resolve_api_key, resolve_base_url
from ._errors import InvalidParameterError
from ._retry import RetryPolicy
from ._validation import validate_headers, validate_max_retries, validate_timeout
from ._version import DISTRIBUTION, version

__all__ = ["ClientConfig", "TimeoutTypes"]

TimeoutTypes = float | httpx.Timeout

_FORBIDDEN_DEFAULT_HEADERS = frozenset({"authorization", "host", "content-length"})


@dataclass(frozen=True, repr=False)
class ClientConfig:
    api_key: Secret
    base_url: httpx.URL
    timeout: httpx.Timeout
    policy: RetryPolicy
    default_headers: Mapping[str, str]
    auth: BearerAuth
    redact: Redactor

    @classmethod
    def create(
        cls,
        *,
        api_key: str | None,
        base_url: str | httpx.URL | None,
        timeout: TimeoutTypes,
        max_retries: int,
        default_headers: Mapping[str, str] | None,
    ) -> ClientConfig:
        key = resolve_api_key(api_key)
        url = resolve_base_url(base_url)
        headers = {"User-Agent": f"{DISTRIBUTION}/{version()}"}
        for name, value in validate_headers("default_headers", default_headers).items():
            if name.lower() in _FORBIDDEN_DEFAULT_HEADERS:
                raise InvalidParameterError(
                    "default_headers", f"{name!r} is set by the client; pass api_key= instead"
                )
            headers[name] = value
        return cls(
            api_key=key,
            base_url=url,
            timeout=to_timeout(timeout),
            policy=RetryPolicy(max_retries=validate_max_retries(max_retries)),
            default_headers=headers,
            auth=BearerAuth(key, url),
            redact=Redactor(key),
        )

    @property
    def plain_http_loopback(self) -> bool:
        """Whether the API is reached over plain http on this machine (no proxy may see it)."""
        return self.base_url.scheme == "http"

    def url(self, path: str) -> httpx.URL:
        """The absolute URL of an API path from a generated ``_get_kwargs`` (already quoted)."""
        base = self.base_url.raw_path.rstrip(b"/")
        return self.base_url.copy_with(raw_path=base + path.encode("ascii"))

    def __repr__(self) -> str:
        return f"ClientConfig(base_url={str(self.base_url)!r}, policy={self.policy!r})"


def to_timeout(timeout: TimeoutTypes) -> httpx.Timeout:
    """The per-attempt request timeout (as in the OpenAI SDK); never a whole-call deadline."""
    if isinstance(timeout, httpx.Timeout):
        return timeout
    seconds = validate_timeout(timeout)
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))
