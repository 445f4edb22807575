"""The mock's ASGI app: routing, auth, validation per ``openapi.yaml``, faults, responses.

A plain ASGI callable (not a ``Starlette`` instance, so no middleware answers for it): every
byte it sends is decided here. Starlette is used only to parse requests (query, headers,
multipart bodies).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
from deerapi_videos import VideoContentVariant
from deerapi_videos.model_table import model_table
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from ._backend import Backend, Reply, error_reply
from ._faults import Fault
from ._jobs import MockVideo
from ._media import JPEG_SPRITESHEET, WEBP_THUMBNAIL, Asset, mp4_asset
from ._shapes import REQUEST_ID_HEADERS

__all__ = ["ABORT_EXTENSION", "MockApp", "route"]

#: ASGI ``scope["extensions"]`` key under which a server offers a "close this connection now"
#: callable (the loopback server does); without it a drop raises ``httpx.RemoteProtocolError``.
ABORT_EXTENSION = "deerapi_videos_mock.abort"

#: Where the app serves ``openapi.yaml`` (no auth), e.g. for ``schemathesis run <url>``.
SPEC_PATH = "/openapi.yaml"
#: Where the app serves its request log as JSON (no auth; not itself logged), so a test or a
#: user can count the requests a served mock saw over loopback.
REQUEST_LOG_PATH = "/_mock/requests"
# The parameter domains of each known model come from the model table the client ships (one
# home, ``deerapi_videos/models.json``); a model it does not know takes any non-empty value.
_TABLE = model_table()
VARIANTS = tuple(member.value for member in VideoContentVariant)
ORDERS = ("asc", "desc")
CREATE_FIELDS = ("prompt", "model", "seconds", "size", "input_reference")
REMIX_FIELDS = ("prompt", "model")
DEFAULT_MODEL = _TABLE.default_model
DEFAULT_SECONDS = _TABLE.models[DEFAULT_MODEL].default_seconds
DEFAULT_SIZE = _TABLE.models[DEFAULT_MODEL].default_size
#: What a gateway without the route answers (Gin's default 404).
NOT_SERVED_BODY = b"404 page not found"
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,255}")
_INTEGER = re.compile(r"-?[0-9]+")
_RANGE = re.compile(r"\s*bytes\s*=\s*([0-9]*)\s*-\s*([0-9]*)\s*")


def route(method: str, path: str) -> tuple[str | None, str | None, tuple[str, ...]]:
    """Map a request to ``(operationId, video_id, allowed methods)``.

    ``operationId`` is None when the path is unknown (allowed is empty) or the method is not
    allowed there (allowed lists the methods that are).
    """
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "" or parts[1] != "v1" or parts[2] != "videos":
        return None, None, ()
    rest = [unquote(p) for p in parts[3:]]
    table: dict[str, str]
    video_id: str | None = None
    if not rest:
        table = {"POST": "createVideo", "GET": "listVideos"}
    elif len(rest) == 1 and rest[0]:
        video_id = rest[0]
        table = {"GET": "retrieveVideo", "DELETE": "deleteVideo"}
    elif len(rest) == 2 and rest[0] and rest[1] == "content":
        video_id = rest[0]
        table = {"GET": "downloadVideoContent"}
    elif len(rest) == 2 and rest[0] and rest[1] == "remix":
        video_id = rest[0]
        table = {"POST": "remixVideo"}
    else:
        return None, None, ()
    return table.get(method), video_id, tuple(table)


class _Invalid(Exception):
    """Raised by validation; turned into a 400 (or other) error envelope."""

    def __init__(
        self, message: str, param: str | None, code: str = "invalid_value", status: int = 400
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.status = status


def _image_kind(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _single(values: list[str], name: str) -> str:
    if len(values) > 1:
        raise _Invalid(
            f"'{name}' was given {len(values)} times; give it once.", name, "invalid_type"
        )
    return values[0]


def _content_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


class MockApp:
    """ASGI application serving one :class:`Backend`."""

    def __init__(self, mock: Backend) -> None:
        self.mock = mock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1000})
            return
        await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- the request path --------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        mock = self.mock
        request_id = mock._next_request_id()
        method: str = scope["method"]
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else str(scope["path"])
        path = path.split("?", 1)[0]
        log_path = str(scope["path"])
        operation, video_id, allowed = route(method, path)

        if path == SPEC_PATH and method == "GET":
            from deerapi_videos.spec import spec_path

            reply = Reply(200, media_type="application/yaml", body=spec_path().read_bytes())
            await self._send(scope, receive, send, reply, request_id)
            mock._record(method, log_path, reply.status, request_id)
            return
        if path == REQUEST_LOG_PATH and method == "GET":
            reply = Reply(200, {"object": "list", "data": mock.request_log()})
            await self._send(scope, receive, send, reply, request_id)
            return
        if operation in mock.unserved:
            reply = Reply(404, media_type="text/plain; charset=utf-8", body=NOT_SERVED_BODY)
            await self._send(scope, receive, send, reply, request_id)
            mock._record(method, log_path, reply.status, request_id)
            return
        if operation is None:
            if allowed:
                reply = error_reply(
                    405,
                    f"Method {method} is not allowed on {log_path}.",
                    code="method_not_allowed",
                    headers=[("allow", ", ".join(allowed))],
                )
            else:
                reply = error_reply(
                    404, f"Unknown request URL: {method} {log_path}.", code="unknown_url"
                )
            await self._send(scope, receive, send, reply, request_id)
            mock._record(method, log_path, reply.status, request_id)
            return

        faults = mock._active_faults(operation)
        for fault in faults:
            if fault.kind == "slow" and fault.consume():
                await asyncio.sleep(fault.seconds)
        for fault in faults:
            if fault.kind == "drop_before" and fault.consume():
                mock._record(method, log_path, 0, request_id)
                # Read the body first: closing a socket with unread data sends a reset, and the
                # client should see a clean "disconnected without a response".
                await self._drain(receive)
                await self._drop(scope, receive)
                return
        for fault in faults:
            early: Reply | None = None
            if fault.kind == "status" and not fault.after_processing and fault.consume():
                early = self._fault_reply(fault)
            elif fault.kind == "html_error" and fault.consume():
                early = self._html_reply(fault.status_code, request_id)
            elif fault.kind == "error_with_success" and fault.consume():
                early = error_reply(200, fault.message or "", type_="server_error", code="busy")
            if early is not None:
                await self._send(scope, receive, send, early, request_id)
                mock._record(method, log_path, early.status, request_id)
                return

        request = Request(scope, receive)
        try:
            reply = await self._dispatch(operation, video_id or "", request)
        except _Invalid as exc:
            reply = error_reply(exc.status, exc.message, param=exc.param, code=exc.code)
        finally:
            await request.close()

        for fault in faults:
            if fault.kind == "drop_after" and fault.consume():
                mock._record(method, log_path, 0, request_id)
                await self._drop(scope, receive)
                return
        for fault in faults:
            if fault.kind == "status" and fault.after_processing and fault.consume():
                reply = self._fault_reply(fault)
                break
        reply.payload = self._transform(reply.payload, faults)
        for fault in faults:
            if fault.kind == "headers" and fault.consume():
                replaced = {name.lower() for name in fault.headers}
                reply.headers = [(k, v) for k, v in reply.headers if k.lower() not in replaced]
                reply.headers += list(fault.headers.items())
        truncate = None
        if reply.asset is not None:
            truncate = next((f for f in faults if f.kind == "truncate" and f.consume()), None)
        mock._record(
            method,
            log_path,
            0 if truncate and not truncate.short_body else reply.status,
            request_id,
        )
        await self._send(scope, receive, send, reply, request_id, truncate)

    def _fault_reply(self, fault: Fault) -> Reply:
        message, type_ = fault.default_message()
        headers = [("retry-after", fault.retry_after)] if fault.retry_after is not None else []
        return error_reply(
            fault.status_code,
            fault.message or message,
            type_=type_,
            code=type_,
            headers=headers,
        )

    @staticmethod
    def _html_reply(status: int, request_id: str) -> Reply:
        page = (
            f"<!DOCTYPE html>\n<html><head><title>{status} Bad Gateway</title></head>\n"
            f"<body><center><h1>{status} Bad Gateway</h1></center>\n<hr><center>nginx</center>\n"
            f"<!-- request {request_id} --></body></html>\n"
        )
        return Reply(status, media_type="text/html; charset=utf-8", body=page.encode())

    def _transform(self, payload: Any, faults: list[Fault]) -> Any:
        if not isinstance(payload, dict):
            return payload
        videos: list[dict[str, Any]] = []
        if payload.get("object") == "video":
            videos = [payload]
        elif payload.get("object") == "list" and isinstance(payload.get("data"), list):
            videos = [v for v in payload["data"] if isinstance(v, dict)]
        if not videos:
            return payload
        for fault in faults:
            if fault.kind == "unknown_status" and fault.consume():
                for video in videos:
                    video["status"] = fault.video_status
            elif fault.kind == "extra_fields" and fault.consume():
                for video in videos:
                    video.update(fault.fields)
        return payload

    @staticmethod
    async def _drain(receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return

    async def _drop(self, scope: Scope, receive: Receive) -> None:
        abort = (scope.get("extensions") or {}).get(ABORT_EXTENSION)
        if abort is None:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        abort()
        await self._await_disconnect(receive)

    @staticmethod
    async def _await_disconnect(receive: Receive) -> None:
        async def wait() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        with contextlib.suppress(TimeoutError):  # the server reports the disconnect at once
            await asyncio.wait_for(wait(), timeout=5.0)

    # -- sending -------------------------------------------------------------------------------

    async def _send(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        reply: Reply,
        request_id: str,
        truncate: Fault | None = None,
    ) -> None:
        mock = self.mock
        id_header = REQUEST_ID_HEADERS[mock.response_shape].encode()
        headers: list[tuple[bytes, bytes]] = [(id_header, request_id.encode())]
        for name, value in reply.headers:
            headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        if reply.asset is None:
            if reply.body is not None:
                body = reply.body
            else:
                body = json.dumps(reply.payload, separators=(",", ":")).encode()
            headers += [
                (b"content-type", reply.media_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        length = reply.stop - reply.start
        headers += [
            (b"content-type", reply.media_type.encode()),
            (b"content-length", str(length).encode()),
        ]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        limit = length if truncate is None else max(0, min(truncate.after_bytes, length))
        sent = 0
        try:
            for chunk in reply.asset.iter_bytes(
                reply.start, reply.start + limit, chunk_size=mock.chunk_size
            ):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                sent += len(chunk)
        except OSError:  # the client went away mid-download
            return
        if truncate is not None and not truncate.short_body:
            await self._drop(scope, receive)
            return
        await send({"type": "http.response.body", "body": b""})

    # -- operations ----------------------------------------------------------------------------

    async def _dispatch(self, operation: str, video_id: str, request: Request) -> Reply:
        mock = self.mock
        denied = self._auth(request)
        if denied is not None:
            return denied
        if operation == "createVideo":
            return await self._create(request)
        if operation == "remixVideo":
            return await self._remix(request, video_id)
        if operation == "listVideos":
            return self._list(request)
        if operation == "retrieveVideo":
            return mock._retrieve(video_id)
        if operation == "deleteVideo":
            return mock._delete(video_id)
        return self._content(request, video_id)

    def _auth(self, request: Request) -> Reply | None:
        value = request.headers.get("authorization")
        if not value:
            return error_reply(
                401,
                "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
                type_="authentication_error",
                code="missing_api_key",
            )
        scheme, _, token = value.partition(" ")
        token = token.strip()
        expected = self.mock.api_key
        if scheme.lower() != "bearer" or not token or (expected is not None and token != expected):
            return error_reply(
                401, "Invalid API key.", type_="authentication_error", code="invalid_api_key"
            )
        return None

    def _idempotency_key(self, request: Request) -> str | None:
        values = request.headers.getlist("idempotency-key")
        if not values:
            return None
        key = _single(values, "Idempotency-Key")
        if not _IDEMPOTENCY_KEY.fullmatch(key):
            raise _Invalid(
                "Invalid 'Idempotency-Key': use 1 to 255 characters from A-Z a-z 0-9 _ . : -.",
                "Idempotency-Key",
            )
        return key

    async def _create(self, request: Request) -> Reply:
        mock = self.mock
        lenient = "accept_invalid_input" in mock.defects
        key = self._idempotency_key(request)
        ctype = _content_type(request.headers)
        if ctype != "multipart/form-data":
            raise _Invalid(
                f"Invalid Content-Type '{ctype or '(none)'}': send multipart/form-data.",
                None,
                "invalid_content_type",
            )
        try:
            form = await request.form(max_files=64, max_fields=64)
        except Exception as exc:
            raise _Invalid(
                f"Could not parse the multipart body: {exc}", None, "invalid_body"
            ) from exc
        values: dict[str, list[str | UploadFile]] = {}
        for name, value in form.multi_items():
            values.setdefault(name, []).append(value)
        for name, items in values.items():
            if name not in CREATE_FIELDS and not lenient:
                raise _Invalid(
                    f"Unrecognized request argument supplied: {name}", name, "unknown_parameter"
                )
            if len(items) > 1 and name != "input_reference":
                raise _Invalid(f"'{name}' was given {len(items)} times; give it once.", name)

        def text(name: str) -> str | None:
            if name not in values:
                return None
            item = values[name][0]
            if not isinstance(item, str):
                raise _Invalid(
                    f"Invalid type for '{name}': expected a string.", name, "invalid_type"
                )
            return item

        prompt = text("prompt")
        if prompt is None:
            raise _Invalid(
                "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter"
            )
        if not prompt:
            raise _Invalid("Invalid 'prompt': empty string.", "prompt", "empty_string")
        model = text("model")
        if model is not None and not model:
            raise _Invalid("Invalid 'model': empty string.", "model", "empty_string")
        spec = _TABLE.get(model)  # None: a model the table does not know takes any value
        model_name = spec.id if spec is not None else str(model)
        seconds = text("seconds")
        if seconds is not None and not seconds:
            raise _Invalid("Invalid 'seconds': empty string.", "seconds", "empty_string")
        if seconds is not None and spec is not None and seconds not in spec.seconds and not lenient:
            raise _Invalid(
                f"Invalid 'seconds': '{seconds}'. Model '{model_name}' takes one of "
                f"{', '.join(repr(s) for s in spec.seconds)}.",
                "seconds",
            )
        size = text("size")
        if size is not None and not size:
            raise _Invalid("Invalid 'size': empty string.", "size", "empty_string")
        if size is not None and spec is not None and size not in spec.sizes and not lenient:
            raise _Invalid(
                f"Invalid 'size': '{size}'. Model '{model_name}' takes one of "
                f"{', '.join(spec.sizes)}.",
                "size",
            )
        references: list[bytes] = []
        for item in values.get("input_reference", []):
            data = await item.read() if isinstance(item, UploadFile) else item.encode("utf-8")
            if _image_kind(data) is None:
                raise _Invalid(
                    "Invalid 'input_reference': expected a JPEG, PNG or WebP image.",
                    "input_reference",
                    "invalid_image",
                )
            references.append(data)
        most = spec.max_references if spec is not None else len(references)
        if len(references) > most:
            frames = " (first and last frame)" if most == 2 else ""
            raise _Invalid(
                f"Invalid 'input_reference': model '{model_name}' takes at most {most} "
                f"image(s){frames}, got {len(references)}.",
                "input_reference",
                "too_many_images",
            )
        fingerprint = (
            "createVideo",
            prompt,
            model,
            seconds,
            size,
            tuple(hashlib.sha256(r).hexdigest() for r in references),
        )
        return mock._start_job(
            "createVideo",
            key=key,
            fingerprint=fingerprint,
            prompt=prompt,
            model=model,
            seconds=seconds,
            size=size,
            input_references=tuple(references),
            source_id=None,
        )

    async def _remix(self, request: Request, video_id: str) -> Reply:
        mock = self.mock
        lenient = "accept_invalid_input" in mock.defects
        key = self._idempotency_key(request)
        ctype = _content_type(request.headers)
        if ctype != "application/json" and not ctype.endswith("+json"):
            raise _Invalid(
                f"Invalid Content-Type '{ctype or '(none)'}': send application/json.",
                None,
                "invalid_content_type",
            )
        raw = await request.body()
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise _Invalid(f"The body is not valid JSON: {exc}", None, "invalid_json") from exc
        if not isinstance(body, dict):
            raise _Invalid("The body must be a JSON object.", None, "invalid_type")
        for name in body:
            if name not in REMIX_FIELDS and not lenient:
                raise _Invalid(
                    f"Unrecognized request argument supplied: {name}", name, "unknown_parameter"
                )
        if "prompt" not in body:
            raise _Invalid(
                "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter"
            )
        prompt = body["prompt"]
        if not isinstance(prompt, str):
            raise _Invalid(
                "Invalid type for 'prompt': expected a string.", "prompt", "invalid_type"
            )
        if not prompt:
            raise _Invalid("Invalid 'prompt': empty string.", "prompt", "empty_string")
        model = body.get("model")
        if "model" in body:
            if not isinstance(model, str):
                raise _Invalid(
                    "Invalid type for 'model': expected a string.", "model", "invalid_type"
                )
            if not model:
                raise _Invalid("Invalid 'model': empty string.", "model", "empty_string")
        return mock._start_job(
            "remixVideo",
            key=key,
            fingerprint=("remixVideo", video_id, prompt, model),
            prompt=prompt,
            model=model,
            seconds=None,
            size=None,
            input_references=(),
            source_id=video_id,
        )

    @staticmethod
    def _query(request: Request) -> dict[str, list[str]]:
        query: dict[str, list[str]] = {}
        raw = request.scope.get("query_string", b"").decode("latin-1")
        for name, value in parse_qsl(raw, keep_blank_values=True):
            query.setdefault(name, []).append(value)
        return query

    def _list(self, request: Request) -> Reply:
        mock = self.mock
        lenient = "accept_invalid_input" in mock.defects
        query = self._query(request)
        after: str | None = None
        if "after" in query:
            after = _single(query["after"], "after")
            if not after:
                raise _Invalid("Invalid 'after': empty string.", "after", "empty_string")
        limit = 20
        if "limit" in query:
            raw_limit = _single(query["limit"], "limit")
            if not _INTEGER.fullmatch(raw_limit):
                raise _Invalid(
                    f"Invalid 'limit': '{raw_limit}' is not an integer.", "limit", "invalid_type"
                )
            limit = int(raw_limit)
            if not 1 <= limit <= 100:
                if not lenient:
                    raise _Invalid(
                        f"Invalid 'limit': {limit}. Expected an integer from 1 to 100.", "limit"
                    )
                limit = max(1, min(100, limit))
        order = "desc"
        if "order" in query:
            order = _single(query["order"], "order")
            if order not in ORDERS:
                raise _Invalid(f"Invalid 'order': '{order}'. Expected 'asc' or 'desc'.", "order")
        if order == "asc" and "server_error_on_valid" in mock.defects:
            return error_reply(
                500, "The server had an error while processing your request.", type_="server_error"
            )
        return mock._list(after=after, limit=limit, order=order)

    def _content(self, request: Request, video_id: str) -> Reply:
        mock = self.mock
        query = self._query(request)
        variant = "video"
        if "variant" in query:
            variant = _single(query["variant"], "variant")
            if variant not in VARIANTS:
                raise _Invalid(
                    f"Invalid 'variant': '{variant}'. Expected one of video, thumbnail, "
                    "spritesheet.",
                    "variant",
                )
        found = mock._content_asset(video_id, variant)
        if isinstance(found, Reply):
            return found
        asset = found
        media_type = asset.media_type
        if "wrong_content_type" in mock.defects:
            media_type = "application/octet-stream"
        etag = asset.etag
        headers = [("accept-ranges", "bytes"), ("etag", etag)]
        start, stop, status = 0, asset.size, 200
        range_header = request.headers.get("range")
        if_range = request.headers.get("if-range")
        if if_range is not None and if_range.strip() != etag:
            range_header = None  # RFC 9110 If-Range: another version, so the whole of this one
        if range_header is not None:
            parsed = _parse_range(range_header, asset.size)
            if isinstance(parsed, str):
                return error_reply(
                    400,
                    f"Range '{range_header}' is outside the {asset.size}-byte asset.",
                    param="Range",
                    code="range_not_satisfiable",
                )
            if parsed is not None:
                start, stop = parsed
                status = 206
                headers.append(("content-range", f"bytes {start}-{stop - 1}/{asset.size}"))
        return Reply(
            status, headers=headers, media_type=media_type, asset=asset, start=start, stop=stop
        )


def _parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """``(start, stop)`` for a single byte range, ``"unsatisfiable"``, or None to ignore it."""
    match = _RANGE.fullmatch(header)
    if match is None or not (match.group(1) or match.group(2)):
        return None  # not a single byte range: serve the whole asset (RFC 9110 allows it)
    if match.group(1):
        start = int(match.group(1))
        if match.group(2) and int(match.group(2)) < start:
            return None  # syntactically invalid: ignored
        if start >= size:
            return "unsatisfiable"
        last = int(match.group(2)) if match.group(2) else size - 1
        return start, min(last, size - 1) + 1
    suffix = int(match.group(2))
    if suffix == 0:
        return "unsatisfiable"
    return max(0, size - suffix), size


def asset_for(video: MockVideo, variant: str, content_size: int | None) -> Asset:
    if variant == "thumbnail":
        return Asset("image/webp", WEBP_THUMBNAIL, len(WEBP_THUMBNAIL))
    if variant == "spritesheet":
        return Asset("image/jpeg", JPEG_SPRITESHEET, len(JPEG_SPRITESHEET))
    return mp4_asset(video.seconds, content_size)
