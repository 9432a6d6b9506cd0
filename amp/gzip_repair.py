"""Repair upstream bodies that are gzip-compressed but not labelled as such.

The Amp upstream sometimes answers with gzip bytes and no Content-Encoding; clients expecting JSON then
read binary garbage (this broke Amp thread and title fetches in the reference system).
A body that starts with the gzip magic bytes is decompressed in memory -- the one place the proxy holds a
whole body. Labelled bodies and event streams are never inspected (never buffered), corrupt or truncated
gzip passes through byte for byte, and any status code qualifies (gzipped 4xx/5xx bodies too).
"""

from __future__ import annotations

import gzip
import logging
import zlib
from typing import AsyncIterator

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"


def should_inspect(content_encoding: str | None, content_type: str | None) -> bool:
    """Only unlabelled, non-SSE bodies are sniffed; chunked JSON still qualifies."""
    if content_encoding:
        return False
    return "text/event-stream" not in (content_type or "").lower()


def gunzip_or_none(data: bytes) -> bytes | None:
    """The decompressed bytes, or None when `data` is not complete, valid gzip."""
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        return None


async def repair(chunks: AsyncIterator[bytes]) -> tuple[bytes | None, AsyncIterator[bytes]]:
    """Peek at the body: (decompressed body, _) when it was unlabelled gzip, else (None, the same bytes).

    Bodies without the magic bytes are not buffered: after the peek they stream on as they arrive.
    """
    iterator = chunks.__aiter__()
    head = b""
    while len(head) < len(GZIP_MAGIC):
        try:
            head += await iterator.__anext__()
        except StopAsyncIteration:
            return None, _once(head)
    if not head.startswith(GZIP_MAGIC):
        return None, _prefixed(head, iterator)
    body = head + b"".join([chunk async for chunk in iterator])
    decompressed = gunzip_or_none(body)
    if decompressed is None:
        log.warning("amp: upstream body has gzip magic bytes but is not valid gzip; passing it through unchanged")
        return None, _once(body)
    return decompressed, _once(b"")


async def _once(data: bytes) -> AsyncIterator[bytes]:
    if data:
        yield data


async def _prefixed(head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield head
    async for chunk in rest:
        yield chunk
