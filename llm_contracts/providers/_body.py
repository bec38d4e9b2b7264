"""Judge the body of a ``with_streaming_response`` call as the caller reads it.

openai and anthropic (SDKs of the same generator) hand such a call back before reading
its body; the caller reads it through ``iter_bytes`` / ``iter_text`` / ``iter_lines`` /
``read`` / ``parse``, all of which draw on the HTTP response's own ``iter_bytes``
(``aiter_bytes``). That one method of that one response is replaced: the bytes still
come from the SDK's HTTP library in its
own pieces (decoding errors and all, raised where it raises them), but each piece is
released only when the stream policy allows. An SSE body is judged event by event like
``stream=True``; a JSON body when it is complete.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from .._exceptions import ContractViolationError
from ..enforcement._streaming import StreamValidator
from ._registry import Route

__all__ = ["BodyJudge", "install_async", "install_sync"]

# The SDKs' readers (openai's, anthropic's, cohere's) end a line at \r\n, \r or \n alike and an
# event at any empty line: two line ends in a row, whichever they are ("\n\r\n" too). A lone
# \r at the end of what arrived may still become \r\n: either way it ends a line.
_EVENT_END = re.compile(rb"(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r(?!\n)|\n)")


class _Other:
    """An SSE event that carries no chunk (a comment, data that is not JSON)."""


class _Done(_Other):
    """The ``[DONE]`` event: openai stops reading there, so the answer is complete."""


class BodyJudge:
    """Judge one response body; ``take`` bytes as they arrive, get the bytes to release."""

    def __init__(
        self,
        validator: StreamValidator,
        *,
        route: Route,
        sse: bool,
        parse_event: Callable[[bytes], Any],
        parse_body: Callable[[bytes], Any],
    ) -> None:
        self.validator = validator
        self.route = route
        self.sse = sse
        self.parse_event = parse_event
        self.parse_body = parse_body
        self.holding = validator.policy.mode != "immediate"
        self.pieces: deque[bytes] = deque()  # received, not yet released
        self.released = 0  # bytes released so far
        self.received = 0
        self.pending = bytearray()  # an SSE event not complete yet
        self.pending_start = 0
        self.fed: deque[int] = deque()  # where each fed event ends, in the order fed
        self.body: list[bytes] = []  # a JSON body, kept whole for the final judgement
        self.done = False
        self.judged = False  # the answer is complete and passed: the rest flows through

    def _release_to(self, offset: int) -> list[bytes]:
        out = []
        while self.released < offset and self.pieces:
            piece = self.pieces[0]
            room = offset - self.released
            if len(piece) <= room:
                self.pieces.popleft()
            else:
                self.pieces[0] = piece[room:]
                piece = piece[:room]
            out.append(piece)
            self.released += len(piece)
        return out

    def _released_chunks(self, count: int) -> int | None:
        end = None
        for _ in range(count):
            end = self.fed.popleft()
        return end

    def take(self, piece: bytes) -> list[bytes]:
        """Take the next decoded piece of the body; return what may reach the caller now."""
        if not piece:
            return []
        self.pieces.append(piece)
        self.received += len(piece)
        if self.judged:
            return self._release_to(self.received)
        if not self.sse:
            self.body.append(piece)
            return [] if self.holding else self._release_to(self.received)
        # Only the new bytes (and the last three, for a blank line split between pieces)
        # can end an event: rescanning the rest would make a large event quadratic.
        scan = max(0, len(self.pending) - 3)
        self.pending += piece
        release_to = None
        while True:
            found = _EVENT_END.search(self.pending, scan)
            if found is None:
                break
            scan = 0
            block = bytes(self.pending[: found.start()])
            end = self.pending_start + found.end()
            del self.pending[: found.end()]
            self.pending_start = end
            chunk = self.parse_event(block)
            if isinstance(chunk, _Done):
                self.validator.finish()
                self.judged = True
                self.fed.clear()
                return self._release_to(self.received)
            self.fed.append(end)
            released = self.validator.feed(chunk)
            last = self._released_chunks(len(released))
            if last is not None:
                release_to = last
        return [] if release_to is None else self._release_to(release_to)

    def end(self) -> list[bytes]:
        """Judge the complete body; return the rest of it, or raise ``ContractViolationError``."""
        if self.done:
            return []
        self.done = True
        if self.judged:
            pass
        elif self.sse:
            if self.pending.strip():
                # A last event without its blank line: the SDK's decoder still reads it.
                self.fed.append(self.received)
                self.validator.feed(self.parse_event(bytes(self.pending)))
            self.validator.finish()
        else:
            self.validator.conclude(self.route.responses.response(self.parse_body(b"".join(self.body)), None))
        return self._release_to(self.received)

    def abandon(self) -> None:
        if not self.done:
            self.done = True
            self.validator.abandon()


def install_sync(http_response: Any, judge: BodyJudge) -> None:
    """Make ``http_response.iter_bytes`` release only what ``judge`` allows."""
    original = http_response.iter_bytes
    chunker_type = _chunker_type(http_response)

    def iter_bytes(chunk_size: int | None = None) -> Iterator[bytes]:
        if judge.done:
            # Read already, through here: the content was judged then.
            yield from original(chunk_size)
            return
        chunker = chunker_type(chunk_size=chunk_size)
        try:
            for piece in original():
                try:
                    out = judge.take(piece)
                except ContractViolationError:
                    http_response.close()
                    raise
                for released in out:
                    yield from chunker.decode(released)
            try:
                out = judge.end()
            except ContractViolationError:
                http_response.close()
                raise
            for released in out:
                yield from chunker.decode(released)
            yield from chunker.flush()
        except GeneratorExit:
            judge.abandon()
            raise

    original_read = http_response.read

    def read() -> bytes:
        if hasattr(http_response, "_content") and not judge.done:
            # A body the HTTP library had read already (a mock transport's): judge it first.
            for _ in iter_bytes():
                pass
        return original_read()  # type: ignore[no-any-return]

    http_response.iter_bytes = iter_bytes  # this one response only, never the class
    http_response.read = read


def install_async(http_response: Any, judge: BodyJudge) -> None:
    """Make ``http_response.aiter_bytes`` release only what ``judge`` allows."""
    original = http_response.aiter_bytes
    chunker_type = _chunker_type(http_response)

    async def aiter_bytes(chunk_size: int | None = None) -> AsyncIterator[bytes]:
        if judge.done:
            async for piece in original(chunk_size):
                yield piece
            return
        chunker = chunker_type(chunk_size=chunk_size)
        try:
            async for piece in original():
                try:
                    out = judge.take(piece)
                except ContractViolationError:
                    await http_response.aclose()
                    raise
                for released in out:
                    for chunk in chunker.decode(released):
                        yield chunk
            try:
                out = judge.end()
            except ContractViolationError:
                await http_response.aclose()
                raise
            for released in out:
                for chunk in chunker.decode(released):
                    yield chunk
            for chunk in chunker.flush():
                yield chunk
        except GeneratorExit:
            judge.abandon()
            raise

    original_aread = http_response.aread

    async def aread() -> bytes:
        if hasattr(http_response, "_content") and not judge.done:
            async for _ in aiter_bytes():
                pass
        return await original_aread()  # type: ignore[no-any-return]

    http_response.aiter_bytes = aiter_bytes
    http_response.aread = aread


def _chunker_type(http_response: Any) -> Any:
    # The HTTP library's own re-chunker, so iter_bytes(chunk_size) keeps its exact sizes.
    module = __import__(type(http_response).__module__.split(".")[0] + "._decoders", fromlist=["ByteChunker"])
    return module.ByteChunker


def event_parser(client: Any, chunk_type: Any, http_response: Any) -> Callable[[bytes], Any]:
    """Return a function that reads one SSE event block into the vendor SDK's chunk object."""

    def parse(block: bytes) -> Any:
        decoder = client._make_sse_decoder()
        sse = None
        # Lines split at \r and \n only, as the SDK splits them: JSON may carry U+2028 unescaped.
        for line in block.splitlines():
            sse = decoder.decode(line.decode("utf-8", errors="replace")) or sse
        sse = decoder.decode("") or sse
        if sse is None or not sse.data:
            return _Other()
        if sse.data.startswith("[DONE]"):
            return _Done()
        try:
            data = json.loads(sse.data)
            return client._process_response_data(data=data, cast_to=chunk_type, response=http_response)
        except Exception:  # not ours to reject: the SDK's own parse reports it to the caller
            return _Other()

    return parse
