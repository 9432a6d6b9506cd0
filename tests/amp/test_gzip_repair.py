"""Unlabelled gzip from the Amp upstream reaches clients readable; everything else passes untouched."""

from __future__ import annotations

import gzip

import pytest

from amp import gzip_repair
from tests.amp.conftest import AUTH
from tests.fakes.ampcode import GZIPPED_JSON, GZIPPED_SSE


async def chunks(*parts: bytes):
    for part in parts:
        yield part


async def collect(iterator) -> bytes:
    return b"".join([c async for c in iterator])


@pytest.mark.parametrize(
    "parts",
    [
        (GZIPPED_JSON,),
        (GZIPPED_JSON[:1], GZIPPED_JSON[1:2], GZIPPED_JSON[2:]),  # magic split across chunks
    ],
)
async def test_gzip_without_label_is_decompressed(parts):
    body, _ = await gzip_repair.repair(chunks(*parts))
    assert body == b'{"upstream":"ok"}'


@pytest.mark.parametrize(
    "data",
    [b"", b"\x1f", b"plain", b"\x1f\x8bgarbage", GZIPPED_JSON[:10], b'{"a":1}'],
    ids=["empty", "one-byte", "plain", "magic-garbage", "truncated", "json"],
)
async def test_everything_else_passes_through_unchanged(data):
    body, rest = await gzip_repair.repair(chunks(data[:1], data[1:]))
    assert body is None
    assert await collect(rest) == data


async def test_plain_bodies_are_not_buffered_after_the_peek():
    pulled: list[int] = []

    async def endless():
        for i in range(1000):
            pulled.append(i)
            yield b"data"

    body, rest = await gzip_repair.repair(endless())
    assert body is None and pulled == [0]  # only the first chunk was read to decide


def test_labelled_and_event_streams_are_not_inspected():
    assert not gzip_repair.should_inspect("gzip", "application/json")
    assert not gzip_repair.should_inspect(None, "text/event-stream; charset=utf-8")
    assert gzip_repair.should_inspect(None, "application/json")
    assert gzip_repair.should_inspect(None, None)


@pytest.mark.parametrize("status", [200, 201, 404, 500])
async def test_proxy_repairs_unlabelled_gzip_for_every_status(harness, status):
    async with harness().client() as client:
        response = await client.get(f"/api/internal/gzip?status={status}", headers=AUTH)
    assert response.status_code == status
    assert "content-encoding" not in response.headers
    assert response.content == b'{"upstream":"ok"}'
    assert response.headers["content-length"] == str(len(b'{"upstream":"ok"}'))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("corrupt-gzip", b"\x1f\x8bnot really gzip at all"),
        ("truncated-gzip", GZIPPED_JSON[:10]),
        ("one-byte", b"\x1f"),
    ],
)
async def test_proxy_passes_broken_gzip_through_unchanged(harness, path, expected):
    async with harness().client() as client:
        response = await client.get(f"/api/internal/{path}", headers=AUTH)
    assert response.status_code == 200
    assert response.content == expected


async def test_labelled_gzip_stays_compressed_for_clients_that_accept_it(harness):
    async with harness().client() as client:
        request = client.build_request("GET", "/api/internal/gzip-labelled", headers={**AUTH, "Accept-Encoding": "gzip, br"})
        response = await client.send(request, stream=True)
        raw = b"".join([c async for c in response.aiter_raw()])
        await response.aclose()
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == b'{"upstream":"ok"}'


async def test_labelled_gzip_is_decoded_for_clients_that_do_not_accept_it(harness):
    async with harness().client() as client:
        request = client.build_request("GET", "/api/internal/gzip-labelled", headers={**AUTH, "Accept-Encoding": "identity"})
        response = await client.send(request, stream=True)
        raw = b"".join([c async for c in response.aiter_raw()])
        await response.aclose()
    assert "content-encoding" not in response.headers
    assert raw == b'{"upstream":"ok"}'


async def test_event_stream_bytes_are_never_touched(harness):
    async with harness().client() as client:
        response = await client.get("/api/internal/gzip-sse", headers=AUTH)
    assert response.content == GZIPPED_SSE
