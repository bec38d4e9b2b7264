"""Request middleware: gzip bodies for the API, no caching of pages for logged-in users."""

from __future__ import annotations

import zlib
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.cache import add_never_cache_headers

from dashboard.lib.text import unstorable


def _error(status: int, reason: str, field: str = "body") -> JsonResponse:
    return JsonResponse({"errors": [{"field": field, "reason": reason}]}, status=status)


class GzipRequestMiddleware:
    """Decompress request bodies sent with ``Content-Encoding: gzip``, within a size limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        encoding = request.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("", "identity"):
            too_big = _declared_length(request) > settings.INGEST_MAX_BODY_BYTES
            if too_big and request.path.startswith("/api/"):
                # Django would refuse it too, but with an HTML 400 an SDK cannot read.
                return _error(413, f"the body is larger than {settings.INGEST_MAX_BODY_BYTES} bytes")
            return self.get_response(request)
        if encoding != "gzip":
            return _error(415, f"Content-Encoding {encoding!r} is not supported; send gzip or nothing")
        limit = settings.INGEST_MAX_BODY_BYTES
        compressed = request.read(limit + 1)
        if len(compressed) > limit:
            return _error(413, f"the compressed body is larger than {limit} bytes")
        # A bounded decompressor: a small body that inflates without end (a zip bomb)
        # stops at the limit instead of exhausting memory.
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(compressed, limit + 1)
        except zlib.error as exc:
            return _error(400, f"the body is not valid gzip: {exc}")
        if len(body) > limit or inflater.unconsumed_tail:
            return _error(413, f"the decompressed body is larger than {limit} bytes")
        if not inflater.eof:
            return _error(400, "the gzip body is truncated")
        # HttpRequest.body returns _body when it is set, so every later reader
        # (django-ninja's parser included) sees the plain JSON.
        request._body = body  # type: ignore[attr-defined]
        request.META["CONTENT_LENGTH"] = str(len(body))
        del request.META["HTTP_CONTENT_ENCODING"]
        return self.get_response(request)


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class UnstorableTextMiddleware:
    """Refuse a path or query parameter that no database column could hold (NUL, lone surrogates)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where, reason = "path", unstorable(request.path)
        if reason is None and request.META.get("QUERY_STRING"):
            for key, values in request.GET.lists():
                reason = unstorable(key) or next(filter(None, map(unstorable, values)), None)
                if reason is not None:
                    where = key if unstorable(key) is None else "query"
                    break
        if reason is None:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return _error(400, reason, field=where)
        return HttpResponseBadRequest(f"The {where} {reason}.", content_type="text/plain")


class NoStoreForUsersMiddleware:
    """Mark every answer to a logged-in user ``Cache-Control: no-store`` unless the view chose a policy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        # Project pages show API keys (a new one in full, once), webhook URLs and model
        # output: no browser or proxy cache may keep them after logout.
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response
