"""Record and replay a model's HTTP traffic, at the transport under the vendor SDK.

Every vendor SDK we wrap (openai 2.x on ``httpx``, openai 3.x and anthropic on ``httpx2``)
sends its requests through a transport's ``handle_request``; recording there catches every
endpoint and streamed answers alike, whatever the SDK. A cassette is a readable JSON or YAML
file: one entry per request, bodies as JSON, server-sent events one per line, with API keys
and the configured headers left out.

Record modes (as VCR.py's): ``none`` replays and never sends; ``once`` records a cassette
that does not exist yet and otherwise replays; ``new`` replays what is recorded and records
what is not; ``all`` records everything anew.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import importlib.util
import json
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .._exceptions import ContractConfigError, LLMContractsError

__all__ = ["DEFAULT_FILTER_HEADERS", "RECORD_MODES", "Cassette", "CassetteMissError", "intercept"]

RECORD_MODES = ("none", "once", "new", "all")
CASSETTE_VERSION = 1

# Credentials of the vendors we know; more come from the caller (the pytest option
# ``llm_cassette_filter_headers``). Matched without regard to case.
DEFAULT_FILTER_HEADERS = (
    "authorization",
    "proxy-authorization",
    "api-key",
    "x-api-key",
    "x-goog-api-key",
    "cookie",
    "set-cookie",
    "openai-organization",
    "openai-project",
    "ocp-apim-subscription-key",
)
_FILTER_QUERY = ("key", "api_key", "api-key", "apikey", "access_token", "token")
# Describe the bytes on the wire, not the decoded body the cassette keeps.
_HOP_HEADERS = ("content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive")
# Request headers that say which machine and SDK version sent it: noise in a cassette's diff.
_NOISE = ("host", "accept-encoding", "x-stainless-")
_SHOWN = 300


class CassetteMissError(LLMContractsError):
    """Raise when a request has no recorded answer and recording is off."""


def _http_of(obj: Any) -> Any:
    """Return the HTTP library (``httpx`` or ``httpx2``) ``obj`` belongs to."""
    return sys.modules[type(obj).__module__.split(".")[0]]


def _clean_url(url: Any) -> str:
    parts = urlsplit(str(url))
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = [(k, v) for k, v in pairs if k.lower() not in _FILTER_QUERY]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _encode_body(content: bytes, content_type: str) -> dict[str, Any]:
    """Return the body in its most readable form that replays to the same meaning."""
    if not content:
        return {}
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(content).decode("ascii")}
    if "text/event-stream" in content_type:
        events = [e for e in text.split("\n\n") if e]
        if "\n\n".join(events) + "\n\n" == text:
            return {"sse": events}
        return {"text": text}
    if "json" in content_type or text[:1] in ("{", "["):
        try:
            return {"json": json.loads(text)}
        except ValueError:
            pass
    return {"text": text}


def _decode_pieces(entry: dict[str, Any]) -> list[bytes]:
    """Return the body of a recorded entry, in the pieces it is replayed in (one per event)."""
    if "sse" in entry:
        return [f"{event}\n\n".encode() for event in entry["sse"]]
    if "json" in entry:
        return [json.dumps(entry["json"]).encode()]
    if "text" in entry:
        return [entry["text"].encode()]
    if "base64" in entry:
        return [base64.b64decode(entry["base64"])]
    return []


def _body_key(encoded: dict[str, Any]) -> str:
    if "json" in encoded:
        return "json:" + json.dumps(encoded["json"], sort_keys=True)
    for kind in ("text", "base64"):
        if kind in encoded:
            return f"{kind}:{encoded[kind]}"
    return ""


def _entries(count: int) -> str:
    return f"{count} {'entry' if count == 1 else 'entries'}"


def _shown(entry: dict[str, Any]) -> str:
    bodies = [entry[kind] for kind in ("json", "sse", "text", "base64") if kind in entry]
    if not bodies:
        return "(no body)"
    text = json.dumps(bodies[0], ensure_ascii=False)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + f"... ({len(text)} characters)"


class _YAML:
    """PyYAML, imported when a YAML cassette is read or written, with multi-line strings as blocks."""

    @staticmethod
    def module(path: Path) -> Any:
        try:
            import yaml
        except ImportError:
            raise ContractConfigError(
                f"{path}: YAML cassettes need PyYAML (pip install "
                "'llm-contracts[testing]'); or use JSON cassettes"
            ) from None
        return yaml

    @classmethod
    def dump(cls, path: Path, data: Any) -> str:
        yaml = cls.module(path)

        class Dumper(yaml.SafeDumper):  # type: ignore[misc,name-defined]
            pass

        def text(dumper: Any, value: str) -> Any:
            # Events and other multi-line text as literal blocks; PyYAML quotes what a block cannot hold.
            style = "|" if "\n" in value else None
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

        Dumper.add_representer(str, text)
        return str(yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=110))


class Cassette:
    """The recorded HTTP exchanges of one test, replayed in the order they were recorded.

    A request matches an entry with the same method, URL (less credential query
    parameters) and body (JSON compared as data); each entry is played once, so a test
    that asks the same question twice gets both recorded answers, in order.

    Parameters:
        path: the ``.json``, ``.yaml`` or ``.yml`` file.
        mode: one of ``RECORD_MODES``.
        filter_headers: more header names to leave out of the file (credentials of
            ``DEFAULT_FILTER_HEADERS`` are always left out).
        why: said in the error of a request that has no recorded answer (why recording is off).

    Example::

        cassette = Cassette("tests/cassettes/support.json", mode="once")
        with intercept(cassette):
            client.chat.completions.create(...)
        cassette.save()
    """

    def __init__(
        self, path: str | Path, *, mode: str = "none", filter_headers: Iterable[str] = (), why: str = ""
    ) -> None:
        if mode not in RECORD_MODES:
            raise ContractConfigError(f"record mode must be one of {', '.join(RECORD_MODES)}; got {mode!r}")
        self.path = Path(path)
        if self.path.suffix.lower() not in (".json", ".yaml", ".yml"):
            raise ContractConfigError(f"{self.path}: a cassette is a .json, .yaml or .yml file")
        self.mode = mode
        self.why = why
        self.filter_headers = {h.lower() for h in (*DEFAULT_FILTER_HEADERS, *filter_headers)}
        self.existed = self.path.exists()
        self.entries: list[dict[str, Any]] = [] if mode == "all" or not self.existed else self._load()
        self.played: set[int] = set()
        self.recorded = 0
        self.misses: list[str] = []
        self._lock = threading.Lock()

    # -- the file --------------------------------------------------------------------------

    def _load(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ContractConfigError(
                f"cannot read cassette {self.path}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        try:
            if self.path.suffix.lower() == ".json":
                data = json.loads(text)
            else:
                yaml = _YAML.module(self.path)
                data = yaml.safe_load(text)
        except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError
            raise ContractConfigError(f"cassette {self.path} is not valid: {exc}") from None
        entries = data.get("interactions") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("request"), dict) and isinstance(e.get("response"), dict)
            for e in entries
        ):
            raise ContractConfigError(
                f"cassette {self.path} is not valid: expected a mapping with "
                "'interactions', each a mapping with 'request' and 'response'"
            )
        return entries

    def save(self) -> bool:
        """Write the cassette when anything was recorded; return whether it was written."""
        with self._lock:
            if not self.recorded and not (self.mode == "all" and self.entries):
                return False
            data = {"version": CASSETTE_VERSION, "interactions": self.entries}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.suffix.lower() == ".json":
                text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
            else:
                text = _YAML.dump(self.path, data)
            self.path.write_text(text, encoding="utf-8")
            self.recorded = 0
            return True

    @property
    def records(self) -> bool:
        """Return True when a request without a recorded answer is sent and recorded."""
        return self.mode in ("new", "all") or (self.mode == "once" and not self.existed)

    # -- matching --------------------------------------------------------------------------

    def _request_entry(self, request: Any) -> dict[str, Any]:
        headers = {
            k.lower(): v
            for k, v in request.headers.items()
            if k.lower() not in self.filter_headers
            and k.lower() not in _HOP_HEADERS
            and not k.lower().startswith(_NOISE)
        }
        return {
            "method": request.method,
            "url": _clean_url(request.url),
            "headers": headers,
            **_encode_body(request.content, request.headers.get("content-type", "")),
        }

    def _take(self, wanted: dict[str, Any]) -> dict[str, Any] | None:
        key = _body_key(wanted)
        for index, entry in enumerate(self.entries):
            recorded = entry["request"]
            if (
                index not in self.played
                and recorded.get("method") == wanted["method"]
                and recorded.get("url") == wanted["url"]
                and _body_key(recorded) == key
            ):
                self.played.add(index)
                response: dict[str, Any] = entry["response"]
                return response
        return None

    def _miss(self, wanted: dict[str, Any]) -> CassetteMissError:
        same = [
            (i, e["request"])
            for i, e in enumerate(self.entries)
            if (e["request"].get("method"), e["request"].get("url")) == (wanted["method"], wanted["url"])
        ]
        played = sum(i in self.played for i, _ in same)
        lines = [
            f"no recorded answer in cassette {self.path} for request "
            f"{wanted['method']} {wanted['url']} with body {_shown(wanted)}"
        ]
        if not self.existed and self.mode != "all":
            lines.append("the cassette file does not exist")
        elif not same:
            lines.append(f"the cassette has {_entries(len(self.entries))}, none for this method and URL")
        else:
            lines.append(
                f"the cassette has {_entries(len(same))} for this method and URL, {played} already "
                "played in this test"
            )
            unplayed = [r for i, r in same if i not in self.played]
            if (
                unplayed
                and "json" in wanted
                and isinstance(unplayed[0].get("json"), dict)
                and isinstance(wanted["json"], dict)
            ):
                theirs = unplayed[0]["json"]
                ours = wanted["json"]
                differ = sorted(k for k in {*theirs, *ours} if theirs.get(k) != ours.get(k))
                lines.append(f"the next unplayed one has a different body ({', '.join(differ)} differ)")
        lines.append(
            f"recording is off (record mode {self.mode!r}{', ' + self.why if self.why else ''}); "
            "record it with --llm-record=new"
        )
        message = "; ".join(lines)
        if message not in self.misses:  # an SDK's retries of the same request: one miss
            self.misses.append(message)
        return CassetteMissError(message)

    def _store(self, wanted: dict[str, Any], response: Any) -> dict[str, Any]:
        headers = {
            k.lower(): v
            for k, v in response.headers.items()
            if k.lower() not in self.filter_headers and k.lower() not in _HOP_HEADERS
        }
        recorded = {
            "status": response.status_code,
            "headers": headers,
            **_encode_body(response.content, response.headers.get("content-type", "")),
        }
        self.entries.append({"request": wanted, "response": recorded})
        self.played.add(len(self.entries) - 1)
        self.recorded += 1
        return recorded

    # -- serving ---------------------------------------------------------------------------

    def handle(self, request: Any, send: Callable[[Any], Any]) -> Any:
        """Answer ``request`` from the cassette, or with ``send(request)`` recorded when recording."""
        request.read()
        wanted = self._request_entry(request)
        with self._lock:
            found = None if self.mode == "all" else self._take(wanted)
            if found is None and not self.records:
                raise self._miss(wanted)
        if found is None:
            response = send(request)
            try:
                response.read()
            finally:
                response.close()
            with self._lock:
                found = self._store(wanted, response)
        return _replay(_http_of(request), request, found, sync=True)

    async def ahandle(self, request: Any, send: Callable[[Any], Any]) -> Any:
        """Answer ``request`` like :meth:`handle`, for an async transport."""
        await request.aread()
        wanted = self._request_entry(request)
        with self._lock:
            found = None if self.mode == "all" else self._take(wanted)
            if found is None and not self.records:
                raise self._miss(wanted)
        if found is None:
            response = await send(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
            with self._lock:
                found = self._store(wanted, response)
        return _replay(_http_of(request), request, found, sync=False)

    def transport(self, inner: Any) -> Any:
        """Return a transport that serves through this cassette and sends with ``inner`` when recording."""
        http = _http_of(inner)
        cassette = self

        class CassetteTransport(http.BaseTransport, http.AsyncBaseTransport):  # type: ignore[misc,name-defined]
            def handle_request(self, request: Any) -> Any:
                return cassette.handle(request, inner.handle_request)

            async def handle_async_request(self, request: Any) -> Any:
                return await cassette.ahandle(request, inner.handle_async_request)

        return CassetteTransport()


def _replay(http: Any, request: Any, entry: dict[str, Any], *, sync: bool) -> Any:
    pieces = _decode_pieces(entry)
    headers = dict(entry.get("headers") or {})
    if sync:

        def chunks() -> Iterator[bytes]:
            yield from pieces

        content: Any = chunks()
    else:

        async def achunks() -> AsyncIterator[bytes]:
            for piece in pieces:
                yield piece

        content = achunks()
    return http.Response(int(entry["status"]), headers=headers, content=content, request=request)


def _libraries() -> list[Any]:
    """Return the HTTP libraries installed here that vendor SDKs send through."""
    return [importlib.import_module(name) for name in ("httpx", "httpx2") if importlib.util.find_spec(name)]


@contextlib.contextmanager
def intercept(cassette: Cassette) -> Iterator[Cassette]:
    """Serve every request sent through ``httpx`` / ``httpx2`` network transports from ``cassette``.

    Inside the block the network transports of both libraries (``HTTPTransport``,
    ``AsyncHTTPTransport``) reach the network only to record; mock transports (the fake
    model's) are left alone. Other HTTP libraries are neither recorded nor blocked.
    """
    patched: list[tuple[type, str, Any]] = []

    def wrap_sync(original: Any) -> Any:
        def handle_request(transport: Any, request: Any) -> Any:
            return cassette.handle(request, lambda r: original(transport, r))

        return handle_request

    def wrap_async(original: Any) -> Any:
        async def handle_async_request(transport: Any, request: Any) -> Any:
            return await cassette.ahandle(request, lambda r: original(transport, r))

        return handle_async_request

    try:
        for http in _libraries():
            for cls, name, wrap in (
                (http.HTTPTransport, "handle_request", wrap_sync),
                (http.AsyncHTTPTransport, "handle_async_request", wrap_async),
            ):
                original = cls.__dict__[name]
                patched.append((cls, name, original))
                setattr(cls, name, wrap(original))
        yield cassette
    finally:
        for cls, name, original in reversed(patched):
            setattr(cls, name, original)
