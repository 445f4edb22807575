"""Credentials: where the key comes from, where it may travel, and keeping it out of text.

- The key comes from the ``api_key`` argument or ``DEERAPI_KEY``; without one, construction fails.
- The key is printable ASCII without spaces (what an ``Authorization`` header can carry
  verbatim); anything else is refused at construction, without echoing the key.
- The base URL must be ``https`` unless its host is loopback (127.0.0.0/8, ::1, ``localhost``
  and ``*.localhost``): :func:`key_may_travel_to` is that rule's one home.
- :class:`BearerAuth` adds ``Authorization: Bearer`` only to requests for the API's own origin;
  httpx also drops the header when a redirect leaves the origin, so a storage host never sees it.
- :class:`Redactor` removes the key from any text that may reach a log or an exception.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Generator
from urllib.parse import quote

import httpx

from ._errors import DeerAPIError

__all__ = [
    "REDACTED",
    "BearerAuth",
    "Redactor",
    "Secret",
    "is_loopback",
    "key_may_travel_to",
    "resolve_api_key",
    "resolve_base_url",
]

DEFAULT_BASE_URL = "https://api.deerapi.com"
API_KEY_ENV = "DEERAPI_KEY"
BASE_URL_ENV = "DEERAPI_BASE_URL"
REDACTED = "[redacted]"


class Secret:
    """A string that never shows itself in ``repr``/``str``; read it with :meth:`reveal`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED})"

    __str__ = __repr__


def resolve_api_key(api_key: str | None) -> Secret:
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    if key is None or not key.strip():
        raise DeerAPIError(
            f"No API key: pass api_key=... or set the {API_KEY_ENV} environment variable."
        )
    key = key.strip()
    bad = next((ch for ch in key if not "\x21" <= ch <= "\x7e"), None)
    if bad is not None:
        # Named by code point only: the key itself never appears in a message.
        raise DeerAPIError(
            f"The API key contains U+{ord(bad):04X}; a key is printable ASCII without spaces "
            "(check for a pasted line break or a stray character)."
        )
    return Secret(key)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine: 127.0.0.0/8, ::1, ``localhost``, ``*.localhost``."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def key_may_travel_to(url: str | httpx.URL) -> bool:
    """Whether the API key may be sent to ``url``: https, or plain http to a loopback host."""
    try:
        parsed = httpx.URL(str(url))
    except (httpx.InvalidURL, ValueError, TypeError):
        return False
    if parsed.scheme == "https":
        return bool(parsed.host)
    return parsed.scheme == "http" and bool(parsed.host) and is_loopback(parsed.host)


def resolve_base_url(base_url: str | httpx.URL | None) -> httpx.URL:
    raw = base_url if base_url is not None else os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    url = httpx.URL(str(raw))
    if url.scheme not in ("https", "http") or not url.host:
        raise DeerAPIError(f"base_url must be an absolute http(s) URL, got {str(url)!r}")
    if not key_may_travel_to(url):
        raise DeerAPIError(
            f"base_url {str(url)!r} is not https: the API key would travel in clear text. "
            "Plain http is allowed only for loopback hosts (127.0.0.0/8, ::1, localhost)."
        )
    if url.userinfo or url.query or url.fragment:
        raise DeerAPIError("base_url must not carry credentials, a query or a fragment")
    return url.copy_with(path=url.path.rstrip("/") or "/")


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default_port = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, url.port or default_port


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <key>`` for requests to the API origin only."""

    def __init__(self, key: Secret, base_url: httpx.URL) -> None:
        self._key = key
        self._origin = _origin(base_url)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if _origin(request.url) == self._origin:
            request.headers["Authorization"] = f"Bearer {self._key.reveal()}"
        else:
            request.headers.pop("Authorization", None)
        yield request

    def __repr__(self) -> str:
        return f"BearerAuth(key={REDACTED}, origin={self._origin!r})"


class Redactor:
    """Replaces the API key in text, in every form a server may echo it back.

    The key as sent, JSON-escaped (``/`` as ``\\/``, non-ASCII as ``\\uXXXX``) and
    percent-encoded: an error body that quotes the request shows the key in one of these, and
    the client applies the redactor to raw bodies and to messages decoded from them alike.
    """

    def __init__(self, key: Secret) -> None:
        self._key = key
        raw = key.reveal()
        forms = {raw, raw.replace("/", "\\/"), json.dumps(raw)[1:-1], quote(raw, safe="")}
        # Longest first, so a form containing another is replaced whole.
        self._forms = sorted((f for f in forms if f), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def body(self, text: str) -> str:
        """``text`` redacted; a JSON body is also redacted after decoding its escapes.

        JSON may spell the key in any escape (``\\u0073\\u006b...``); what the client reads out
        of a body is the decoded text, so that is what must not hold the key. A JSON body that
        did is re-encoded from its redacted decoded form.
        """
        text = self(text)
        if "\\" not in text:
            return text
        try:
            decoded = json.loads(text)
        except ValueError:
            return text
        cleaned = self._deep(decoded)
        return text if cleaned == decoded else json.dumps(cleaned, ensure_ascii=False)

    def _deep(self, value: object) -> object:
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self._deep(item) for item in value]
        if isinstance(value, dict):
            return {self(str(k)): self._deep(v) for k, v in value.items()}
        return value

    def __repr__(self) -> str:
        return "Redactor()"
