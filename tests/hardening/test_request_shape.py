"""gateway.request_shape: the front layer's body check, and the LiteLLM cache it hands the parse to.

The fuzz test finds what LiteLLM crashes on; these pin the rules and the one LiteLLM internal the
check relies on to cost nothing extra (its parsed-body cache in scope["parsed_body"]).
"""

from __future__ import annotations

import pytest
from starlette.requests import Request

from gateway import request_shape
from gateway.request_shape import ShapeError, check, parse


async def test_litellm_reads_the_body_the_front_layer_parsed() -> None:
    from litellm.proxy.common_utils.http_parsing_utils import read_request_body

    body = {"model": "gpt-5.1", "input": "hi"}

    async def receive() -> dict:
        raise AssertionError("LiteLLM read the body again instead of using the parsed one")

    scope = {"type": "http", "method": "POST", "path": "/v1/responses", "headers": [],
             "parsed_body": request_shape.litellm_parsed_body(body)}
    assert await read_request_body(Request(scope, receive)) == body


@pytest.mark.parametrize("path,raw,words", [
    ("/v1/messages", b"", "empty"),
    ("/v1/messages", b"\xff\xfe", "not valid JSON"),
    ("/v1/chat/completions", b"null", "JSON object, got null"),
    ("/v1/responses", b"[1]", "got an array"),
])
def test_bodies_that_are_not_objects(path: str, raw: bytes, words: str) -> None:
    with pytest.raises(ShapeError, match=words):
        check(path, parse(raw))


@pytest.mark.parametrize("path,body,field", [
    ("/v1/messages", {"messages": []}, "model"),
    ("/v1/messages", {"model": 5, "messages": []}, "model"),
    ("/v1/messages", {"model": " ", "messages": []}, "model"),
    ("/v1/messages", {"model": "m", "messages": "hi"}, "messages"),
    ("/v1/messages", {"model": "m", "messages": [None]}, "messages.0"),
    ("/v1/messages", {"model": "m", "messages": [], "max_tokens": True}, "max_tokens"),
    ("/v1/messages", {"model": "m", "messages": [], "max_tokens": "64"}, "max_tokens"),
    ("/v1/messages", {"model": "m", "messages": [], "max_tokens": 1, "system": 3}, "system"),
    ("/v1/chat/completions", {"model": "m", "messages": [], "stream": "yes"}, "stream"),
    ("/v1/chat/completions", {"model": "m", "messages": [], "tools": True}, "tools"),
    ("/v1/chat/completions", {"model": "m", "messages": [], "tools": ["x"]}, "tools.0"),
    ("/v1/responses", {"model": "m"}, "input"),
    ("/v1/responses", {"model": "m", "input": {}}, "input"),
    ("/v1/completions", {"model": "m", "prompt": []}, "prompt"),
    ("/v1/messages/count_tokens", {"model": "m", "messages": [1]}, "messages.0"),
])
def test_wrong_types_name_the_field(path: str, body: dict, field: str) -> None:
    with pytest.raises(ShapeError) as err:
        check(path, body)
    assert str(err.value).startswith(field)


@pytest.mark.parametrize("path,body", [
    ("/v1/messages", {"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "x"}],
                      "system": [{"type": "text", "text": "s"}], "stream": True, "tools": [{"name": "t"}]}),
    ("/v1/chat/completions", {"model": "m", "messages": [], "stream": None, "temperature": 0.5, "max_tokens": None}),
    ("/v1/responses", {"model": "m", "input": [{"role": "user", "content": "x"}], "instructions": "i"}),
    ("/v1/completions", {"model": "m", "prompt": ["a", "b"]}),
])
def test_real_requests_pass(path: str, body: dict) -> None:
    check(path, body)  # unknown fields and every valid type are left to LiteLLM and the upstream
