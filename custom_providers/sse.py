"""An incremental Server-Sent Events decoder that keeps every event's exact bytes.

Every reader of an upstream or LiteLLM stream (the cut-stream guards, the error-message cleaner, the
Codex aggregator, the relay) needs to know where one event ends and what it is, while the bytes it
passes on must stay the ones the upstream sent. Searching the bytes for `message_stop` or matching a
regex is not the same thing: an answer whose text mentions `message_stop` (an agent working on SSE
code) would look like the end of the stream. This decoder follows the SSE parsing rules (fields
`event`, `data`, `id`, `retry`; comment lines starting with `:`; lines ended by CR, LF or CRLF; an
event ended by a blank line) and hands back each event with `raw`, the bytes from its first line to
the blank line that ended it. Concatenating the `raw` of every event gives back the stream exactly;
an event the stream ended inside of (no blank line yet) is left in `pending`.

Unknown event types and unknown fields are kept: the decoder only names what it read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

__all__ = ["Event", "SSEDecoder", "iter_events", "CUT_BEFORE_TERMINAL"]

# What a provider's stream reader says when the upstream closed the stream before its terminal event.
CUT_BEFORE_TERMINAL = "The upstream closed the stream before its terminal event."


@dataclass(frozen=True, slots=True)
class Event:
    """One event as it was on the wire (`raw`) and as SSE defines it (the fields)."""

    raw: bytes
    event: str | None = None
    data: str | None = None
    id: str | None = None
    retry: int | None = None

    @property
    def is_blank(self) -> bool:
        """Only comments and blank lines (`: ping` keep-alives, stray newlines): nothing to dispatch."""
        return self.data is None and self.event is None and self.id is None and self.retry is None

    def json(self) -> Any:
        """The data parsed as JSON, or None when there is none or it is not JSON (`[DONE]`)."""
        if not self.data or self.data[0] not in "{[":
            return None
        try:
            return json.loads(self.data)
        except ValueError:
            return None

    @property
    def type(self) -> str | None:
        """The event's name: its `event:` field, else the `type` inside its JSON data.

        Anthropic sends both (`event: message_stop` / `{"type": "message_stop"}`); LiteLLM's Responses
        and chat streams send data only, with the name inside the JSON.
        """
        if self.event:
            return self.event
        payload = self.json()
        if isinstance(payload, dict) and isinstance(payload.get("type"), str):
            return payload["type"]
        return None


def _field(line: bytes) -> tuple[str, str]:
    name, sep, value = line.partition(b":")
    if sep and value.startswith(b" "):
        value = value[1:]
    return name.decode("utf-8", "replace"), value.decode("utf-8", "replace")


def _parse(raw: bytes) -> Event:
    event: str | None = None
    data: list[str] | None = None
    event_id: str | None = None
    retry: int | None = None
    for line in raw.splitlines():
        if not line or line.startswith(b":"):
            continue
        name, value = _field(line)
        if name == "data":
            data = [value] if data is None else [*data, value]
        elif name == "event":
            event = value
        elif name == "id":
            if "\x00" not in value:
                event_id = value
        elif name == "retry" and value.isdigit():
            retry = int(value)
    return Event(raw, event, "\n".join(data) if data is not None else None, event_id, retry)


class SSEDecoder:
    """Feed bytes as they arrive; get back the events they complete, in order."""

    __slots__ = ("_buf", "_scan", "_start")

    def __init__(self) -> None:
        self._buf = b""
        self._scan = 0  # where the next unread line starts
        self._start = 0  # where the current (unfinished) event starts

    @property
    def pending(self) -> bytes:
        """Bytes of an event not finished yet: what a stream cut in the middle of an event leaves."""
        return self._buf[self._start:]

    def feed(self, chunk: bytes) -> list[Event]:
        if not chunk:
            return []
        buf = self._buf = self._buf + chunk if self._buf else chunk
        pos, start = self._scan, self._start
        events: list[Event] = []
        size = len(buf)
        while pos < size:
            lf = buf.find(b"\n", pos)
            cr = buf.find(b"\r", pos, lf if lf >= 0 else size)
            if cr >= 0:
                if cr + 1 == size:
                    break  # a CR at the end may be the first half of CRLF
                line_end, nxt = cr, cr + (2 if buf[cr + 1] == 0x0A else 1)
            elif lf >= 0:
                line_end, nxt = lf, lf + 1
            else:
                break
            if line_end == pos:  # blank line: the event is complete
                events.append(_parse(buf[start:nxt]))
                start = nxt
            pos = nxt
        if start:
            self._buf = buf[start:]
            pos -= start
            start = 0
        self._scan, self._start = pos, start
        return events

    def close(self) -> list[Event]:
        """At the end of a whole body: the last event even without its blank line.

        Only for bodies known to be complete (a non-streaming read). A live stream that ends with
        bytes in `pending` was cut inside an event, and that fragment is not an event.
        """
        rest, self._buf, self._scan, self._start = self.pending, b"", 0, 0
        return [_parse(rest)] if rest else []


def iter_events(body: bytes) -> Iterator[Event]:
    """Every event of a whole SSE body (a final event without its blank line included)."""
    decoder = SSEDecoder()
    yield from decoder.feed(body)
    yield from decoder.close()
