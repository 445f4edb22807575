"""What each check of a conformance run means, in one line (the Markdown report lists them).

The names are schemathesis' checks (``st explain NAME`` says more, with its failure codes) and
three of this package's own: ``live_step``, ``schemathesis`` and ``served``. A check name not in
:data:`CHECK_MEANINGS` still gets a line (pointing at ``st explain``); a test runs every phase
and fails when a check ran that has no meaning here, so an upgrade's new check gets one.
"""

from __future__ import annotations

__all__ = ["CHECK_MEANINGS", "meaning"]

CHECK_MEANINGS: dict[str, str] = {
    "not_a_server_error": "No answer is a server error (5xx), whatever the input.",
    "status_code_conformance": "Every status code answered is one the spec lists for it.",
    "content_type_conformance": "Every Content-Type is one the spec lists for that status code.",
    "response_schema_conformance": (
        "Every body matches the schema the spec gives for its status code and content type."
    ),
    "response_headers_conformance": (
        "The response headers the spec marks required are sent, with valid values."
    ),
    "positive_data_acceptance": "Input the spec allows is accepted (2xx), not refused with 4xx.",
    "negative_data_rejection": (
        "Input the spec does not allow (a wrong type, a missing field) is refused with 4xx."
    ),
    "missing_required_header": "A request without a header the spec requires is refused (4xx).",
    "unsupported_method": (
        "A method the path does not have is answered 405 with an Allow header, not served."
    ),
    "allow_header_conformance": "A 405 answer's Allow header lists exactly the path's methods.",
    "ignored_auth": (
        "A request without the key, or with a wrong one, is refused (401), not served."
    ),
    "use_after_free": "After a successful DELETE the video is gone (404), not still served.",
    "ensure_resource_availability": "A video just created can be read at once (no 404).",
    "object_level_authorization": (
        "One key's videos are not served to another key (403 or 404, not 200)."
    ),
    "max_response_time": "Every answer arrives within the configured time limit.",
    "live_step": (
        "This run's own requests were answered as the spec says: on a live API its paid "
        "create, reads, download, remix and delete; on any server the Idempotency-Key probe."
    ),
    "schemathesis": (
        "The run itself hit an error (the network, the budget guard, schemathesis): see the "
        "message; it counts as a failure."
    ),
    "served": "The server serves this operation at all (JUnit: skipped when it is not served).",
}


def meaning(check: str) -> str:
    """The one-line meaning of ``check`` (or where to read about a check unknown here)."""
    return CHECK_MEANINGS.get(check, f"A schemathesis check: `st explain {check}` describes it.")
